# Polygons to 5-class label maps on each image's grid, one job per hospital.


rule rasterize_hospital:
    input:
        annotations="results/deid/{hospital}/annotations",
        manifest="results/strip/{hospital}/manifest.tsv",
    output:
        labels=directory("results/rasterize/{hospital}/labels"),
        qc="results/rasterize/{hospital}/qc.tsv",
        provenance="results/rasterize/{hospital}/provenance.json",
    params:
        stage_version=stage_version("rasterize"),
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
