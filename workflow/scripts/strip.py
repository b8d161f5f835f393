"""Snakemake adapter for `strip`: de-identified DICOM to NIfTI + manifest for one hospital."""

from pathlib import Path

from neovert import log, provenance, strip

log.setup(snakemake.log[0])
hospital = snakemake.wildcards.hospital
declared = snakemake.params.declared_spacing_mm
counts = strip.strip_hospital(Path(snakemake.input.cases).parent, Path(snakemake.output.manifest).parent, snakemake.threads,
                              declared_spacing_mm=declared)
provenance.write(Path(snakemake.output.provenance), "strip", snakemake.params.stage_version,
                 {"hospital": hospital, "declared_spacing_mm": declared}, counts)
