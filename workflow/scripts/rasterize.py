"""Snakemake adapter for `rasterize`: one hospital's polygons to label maps and QC tables."""

from pathlib import Path

from neovert import log, provenance, rasterize

log.setup(snakemake.log[0])
hospital = snakemake.wildcards.hospital
counts = rasterize.rasterize_hospital(
    Path(snakemake.input.annotations),
    Path(snakemake.input.manifest),
    Path(snakemake.input.quarantine),
    Path(snakemake.output.qc).parent,
    workers=snakemake.threads,
)
provenance.write(
    Path(snakemake.output.provenance), "rasterize", snakemake.params.stage_version, {"hospital": hospital}, counts
)
