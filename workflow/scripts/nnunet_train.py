"""Snakemake adapter for `nnunet_train`: train one fold with the configured setup."""

from neovert import log, nnunet

log.setup(snakemake.log[0])
nnunet.train(snakemake.params.paths, nnunet.Setup(**snakemake.params.setup), threads=snakemake.threads)
