# Metrics per test image and class for each hospital, then the paper's tables over all hospitals.


rule evaluate_hospital:
    input:
        predictions="results/postprocess/{hospital}",
        raw="results/predict/{hospital}",
        truth="results/rasterize/{hospital}/labels",
        split="results/split/split.tsv",
    output:
        per_image="results/evaluate/{hospital}/per_image.tsv",
        raw="results/evaluate/{hospital}/per_image_raw.tsv",
    params:
        stage_version=stage_version("evaluate"),
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        "logs/evaluate/{hospital}/evaluate_hospital.log",
    conda:
        "../../envs/neovert.yaml"
    script:
        "../scripts/evaluate_hospital.py"


rule evaluate_tables:
    input:
        per_image=per_hospital("results/evaluate/{hospital}/per_image.tsv"),
        raw=per_hospital("results/evaluate/{hospital}/per_image_raw.tsv"),
        predictions=per_hospital("results/postprocess/{hospital}"),
    output:
        per_image="results/evaluate/per_image.tsv",
        table3="results/evaluate/table3.tsv",
        table4="results/evaluate/table4.tsv",
        by_hospital="results/evaluate/by_hospital.tsv",
        by_hard_film="results/evaluate/by_hard_film.tsv",
        postprocess_effect="results/evaluate/postprocess_effect.tsv",
    params:
        config_hash=config_hash(),
        penalised=config["evaluate"]["penalised_tables"],
        stage_version=stage_version("evaluate"),
    localrule: True
    log:
        "logs/evaluate/evaluate_tables.log",
    conda:
        "../../envs/neovert.yaml"
    script:
        "../scripts/evaluate_tables.py"


rule evaluate:
    input:
        rules.evaluate_tables.output,
