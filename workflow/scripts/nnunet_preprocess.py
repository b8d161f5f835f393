"""Snakemake adapter for `nnunet_preprocess`: fingerprint, plan, preprocess, install our split."""

from pathlib import Path

from neovert import log, nnunet

log.setup(snakemake.log[0])
nnunet.plan_and_preprocess(
    snakemake.params.paths,
    nnunet.Setup(**snakemake.params.setup),
    Path(snakemake.input.folds),
    threads=snakemake.threads,
)
