# Metadata stripping, one job per hospital: pixels + spacing only, as NIfTI, and a manifest.


rule strip_hospital:
    input:
        dicom="results/deid/{hospital}/dicom",
        cases="results/deid/{hospital}/cases.tsv",
    output:
        images=directory("results/strip/{hospital}/images"),
        manifest="results/strip/{hospital}/manifest.tsv",
        quarantine="results/strip/{hospital}/quarantine.tsv",
        provenance="results/strip/{hospital}/provenance.json",
    params:
        stage_version=stage_version("strip"),
        declared_spacing_mm=declared_spacing,
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
    log:
        "logs/strip/{hospital}/strip_hospital.log",
    benchmark:
        "benchmarks/strip/{hospital}/strip_hospital.tsv"
    conda:
        "../../envs/neovert.yaml"
    script:
        "../scripts/strip.py"


rule strip:
    input:
        per_hospital("results/strip/{hospital}/manifest.tsv"),
