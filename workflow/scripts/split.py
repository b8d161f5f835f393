"""Snakemake adapter for `split`: all hospitals' manifests to the patient-level split."""

from pathlib import Path

from neovert import log, provenance, split

log.setup(snakemake.log[0])
previous = snakemake.input.previous  # the earlier split.tsv, or an empty list when split.previous is null
counts = split.split_cohort(
    split.labelled(split.load_manifests(snakemake.input.manifests), split.load_manifests(snakemake.input.labels)),
    fractions=dict(snakemake.params.fractions),
    seed=snakemake.params.seed,
    out_dir=Path(snakemake.output.split).parent,
    previous=split.load_manifests([previous]) if previous else None,
)
params = {"seed": snakemake.params.seed, "fractions": dict(snakemake.params.fractions),
          "previous_sha256": provenance.hash_files([Path(previous)], Path(previous).parent) if previous else None}
provenance.write(Path(snakemake.output.provenance), "split", snakemake.params.stage_version, params, counts)
