"""Snakemake adapter for `nnunet_export`: train/val cases to nnU-Net's raw dataset folder."""

from pathlib import Path

from neovert import log, nnunet

log.setup(snakemake.log[0])
nnunet.export_dataset(
    Path(snakemake.input.split), Path("results/strip"), Path("results/rasterize"), snakemake.params.paths
)
