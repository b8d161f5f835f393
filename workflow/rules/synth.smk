# The built-in demo cohort: generated only when cohort.root is data/demo and it is missing.


rule synth:
    output:
        sheets=per_hospital("data/demo/{hospital}/clinical.csv"),
        cohort="data/demo/cohort.json",
    params:
        scale=config["synth"]["scale"],
        seed=config["synth"]["seed"],
        per_hospital=config["synth"]["per_hospital"],
        stage_version=stage_version("synth"),
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        "logs/synth/synth.log",
    benchmark:
        "benchmarks/synth/synth.tsv"
    conda:
        "../../envs/neovert.yaml"
    script:
        "../scripts/synth.py"
