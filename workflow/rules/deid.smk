# De-identification, one job per hospital: pseudonyms, shifted dates, allowlisted attributes.


rule deid_hospital:
    input:
        clinical=clinical_sheet,
    output:
        dicom=directory("results/deid/{hospital}/dicom"),
        annotations=directory("results/deid/{hospital}/annotations"),
        cases="results/deid/{hospital}/cases.tsv",
        audit="results/deid/{hospital}/audit.tsv",
        quarantine="results/deid/{hospital}/quarantine.tsv",
        provenance="results/deid/{hospital}/provenance.json",
    params:
        secrets=secrets_dir(),
        stage_version=stage_version("deid"),
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
