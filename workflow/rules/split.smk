# Patient-level split of the whole cohort, stratified by hospital x GA group x BW group.
# With split.previous set, an earlier split's patients keep their sets (see config.yaml).


rule split:
    input:
        manifests=per_hospital("results/strip/{hospital}/manifest.tsv"),
        labels=per_hospital("results/rasterize/{hospital}/qc.tsv"),
        previous=config["split"]["previous"] or [],
    output:
        split="results/split/split.tsv",
        folds="results/split/splits_final.json",
        balance="results/split/balance.tsv",
        balance_md="results/split/balance.md",
        provenance="results/split/provenance.json",
    params:
        seed=config["split"]["seed"],
        fractions=config["split"]["fractions"],
        stage_version=stage_version("split"),
    localrule: True
    log:
        "logs/split/split.log",
    conda:
        "../../envs/neovert.yaml"
    script:
        "../scripts/split.py"
