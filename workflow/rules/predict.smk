# Inference on each hospital's test cases, one job per hospital (the model is loaded once).


rule predict_hospital:
    input:
        checkpoint=CHECKPOINT,
        split="results/split/split.tsv",
        images="results/strip/{hospital}/images",
    output:
        predictions=directory("results/predict/{hospital}"),
    params:
        paths=NNUNET_PATHS,
        setup=SETUP,
    threads: 2
    resources:
        gpu=1 if SETUP["device"] == "cuda" else 0,
        mem_mb=8000,
        runtime=240,
    log:
        "logs/predict/{hospital}/predict_hospital.log",
    benchmark:
        "benchmarks/predict/{hospital}/predict_hospital.tsv"
    conda:
        "../../envs/neovert.yaml"
    script:
        "../scripts/predict.py"


rule predict:
    input:
        per_hospital("results/predict/{hospital}"),
