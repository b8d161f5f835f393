"""Snakemake adapter for `split`: all hospitals' manifests to the patient-level split."""

from pathlib import Path

from neovert import log, split

log.setup(snakemake.log[0])
split.split_cohort(
    split.load_manifests(snakemake.input.manifests),
    fractions=dict(snakemake.params.fractions),
    seed=snakemake.params.seed,
    out_dir=Path(snakemake.output.split).parent,
)
