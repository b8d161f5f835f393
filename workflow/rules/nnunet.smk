# nnU-Net v2: export the train/val cases, plan + preprocess with our split, train one fold.
# Each rule owns one nnU-Net folder; names inside results/nnunet/ are nnU-Net's own.


rule nnunet_export:
    input:
        split="results/split/split.tsv",
        images=per_hospital("results/strip/{hospital}/images"),
        labels=per_hospital("results/rasterize/{hospital}/labels"),
    output:
        raw=directory(f"results/nnunet/raw/{NNUNET_PATHS.dataset}"),
    params:
        paths=NNUNET_PATHS,
        stage_version=stage_version("nnunet"),
    resources:
        mem_mb=2000,
        runtime=60,
    log:
        "logs/nnunet/nnunet_export.log",
    conda:
        "../../envs/neovert.yaml"
    script:
        "../scripts/nnunet_export.py"


rule nnunet_preprocess:
    input:
        raw=f"results/nnunet/raw/{NNUNET_PATHS.dataset}",
        folds="results/split/splits_final.json",
    output:
        preprocessed=directory(f"results/nnunet/preprocessed/{NNUNET_PATHS.dataset}"),
    params:
        paths=NNUNET_PATHS,
        setup=PLANNING,
        stage_version=stage_version("nnunet"),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=240,
    log:
        "logs/nnunet/nnunet_preprocess.log",
    benchmark:
        "benchmarks/nnunet/nnunet_preprocess.tsv"
    conda:
        "../../envs/neovert.yaml"
    script:
        "../scripts/nnunet_preprocess.py"


rule nnunet_train:
    input:
        preprocessed=f"results/nnunet/preprocessed/{NNUNET_PATHS.dataset}",
    output:
        checkpoint=CHECKPOINT,
    params:
        paths=NNUNET_PATHS,
        setup=SETUP,
        stage_version=stage_version("nnunet"),
    threads: 2
    resources:
        gpu=1 if SETUP["device"] == "cuda" else 0,
        mem_mb=16000,
        runtime=2880,
    # a walltime kill or preemption fails the job; each retry resumes from checkpoint_latest.pth
    retries: 2
    log:
        "logs/nnunet/nnunet_train.log",
    benchmark:
        "benchmarks/nnunet/nnunet_train.tsv"
    conda:
        "../../envs/neovert.yaml"
    script:
        "../scripts/nnunet_train.py"


rule nnunet:
    input:
        CHECKPOINT,
