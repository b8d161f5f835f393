# Polygons to 5-class label maps on each image's grid, one job per hospital; qc.tsv gives every
# case a status (ok / flagged / excluded) and issues.tsv every finding with its reason code.


rule rasterize_hospital:
    input:
        annotations="results/deid/{hospital}/annotations",
        manifest="results/strip/{hospital}/manifest.tsv",
        quarantine="results/strip/{hospital}/quarantine.tsv",
    output:
        labels=directory("results/rasterize/{hospital}/labels"),
        qc="results/rasterize/{hospital}/qc.tsv",
        issues="results/rasterize/{hospital}/issues.tsv",
        provenance="results/rasterize/{hospital}/provenance.json",
    params:
        stage_version=stage_version("rasterize"),
    threads: 2
    resources:
        mem_mb=2000,
        runtime=60,
    log:
        "logs/rasterize/{hospital}/rasterize_hospital.log",
    benchmark:
        "benchmarks/rasterize/{hospital}/rasterize_hospital.tsv"
    conda:
        "../../envs/neovert.yaml"
    script:
        "../scripts/rasterize.py"


rule rasterize:
    input:
        per_hospital("results/rasterize/{hospital}/qc.tsv"),
