"""Snakemake adapter for `rasterize`: one hospital's polygons to label maps."""

from pathlib import Path

from neovert import log, rasterize

log.setup(snakemake.log[0])
rasterize.rasterize_hospital(
    Path(snakemake.input.annotations), Path(snakemake.input.manifest), Path(snakemake.output.qc).parent
)
