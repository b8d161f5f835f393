# The audit report: the result tables and overlays (prediction red, truth green, overlap yellow).


rule report_html:
    input:
        table3="results/evaluate/table3.tsv",
        table4="results/evaluate/table4.tsv",
        by_hospital="results/evaluate/by_hospital.tsv",
        by_hard_film="results/evaluate/by_hard_film.tsv",
        postprocess_effect="results/evaluate/postprocess_effect.tsv",
        per_image="results/evaluate/per_image.tsv",
        predictions=per_hospital("results/postprocess/{hospital}"),
        images=per_hospital("results/strip/{hospital}/images"),
        truth=per_hospital("results/rasterize/{hospital}/labels"),
    output:
        html="results/report/report.html",
    params:
        stage_version=stage_version("report"),
    localrule: True
    log:
        "logs/report/report_html.log",
    conda:
        "../../envs/neovert.yaml"
    script:
        "../scripts/report.py"


rule report:
    input:
        rules.report_html.output,
