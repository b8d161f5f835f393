"""Snakemake adapter for `strip`: de-identified DICOM to NIfTI + manifest for one hospital."""

from pathlib import Path

from neovert import log, strip

log.setup(snakemake.log[0])
strip.strip_hospital(Path(snakemake.input.cases).parent, Path(snakemake.output.manifest).parent)
