# De-identification, one job per hospital: PS3.15 Annex E header rules, keyed pseudonyms and
# date shifts, OCR scrub of burned-in text, quarantine table, per-file audit (JSONL).


rule deid_hospital:
    input:
        clinical=clinical_sheet,
    output:
        dicom=directory("results/deid/{hospital}/dicom"),
        annotations=directory("results/deid/{hospital}/annotations"),
        cases="results/deid/{hospital}/cases.tsv",
        audit="results/deid/{hospital}/audit.jsonl",
        quarantine="results/deid/{hospital}/quarantine.tsv",
        provenance="results/deid/{hospital}/provenance.json",
    params:
        secrets=secrets_dir(),
        key_env=config["deid"]["key_env"],
        annotation_format=annotation_format,
        stage_version=stage_version("deid"),
    threads: 2
    resources:
        mem_mb=4000,
        runtime=240,
    log:
        "logs/deid/{hospital}/deid_hospital.log",
    benchmark:
        "benchmarks/deid/{hospital}/deid_hospital.tsv"
    conda:
        "../../envs/neovert.yaml"
    script:
        "../scripts/deid.py"


rule deid:
    input:
        per_hospital("results/deid/{hospital}/cases.tsv"),
