# Keep the largest 8-connected component per vertebra class; lungs untouched unless configured.


rule postprocess_hospital:
    input:
        predictions="results/predict/{hospital}",
    output:
        labels=directory("results/postprocess/{hospital}"),
    params:
        lung_components=config["postprocess"]["lung_components"],
        stage_version=stage_version("postprocess"),
    resources:
        mem_mb=2000,
        runtime=60,
    log:
        "logs/postprocess/{hospital}/postprocess_hospital.log",
    conda:
        "../../envs/neovert.yaml"
    script:
        "../scripts/postprocess.py"


rule postprocess:
    input:
        per_hospital("results/postprocess/{hospital}"),
