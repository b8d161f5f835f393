"""Snakemake adapter for `split`: all hospitals' manifests to the patient-level split."""

from pathlib import Path

from neovert import log, provenance, split

log.setup(snakemake.log[0])
counts = split.split_cohort(
    split.load_manifests(snakemake.input.manifests),
    fractions=dict(snakemake.params.fractions),
    seed=snakemake.params.seed,
    out_dir=Path(snakemake.output.split).parent,
)
params = {"seed": snakemake.params.seed, "fractions": dict(snakemake.params.fractions)}
provenance.write(Path(snakemake.output.provenance), "split", snakemake.params.stage_version, params, counts)
