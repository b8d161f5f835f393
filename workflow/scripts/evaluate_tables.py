"""Snakemake adapter for `evaluate_tables`: the paper's tables over all hospitals."""

from pathlib import Path

import pandas as pd

from neovert import __version__, evaluate, log
from neovert.io import read_tsv
from neovert.provenance import hash_object

log.setup(snakemake.log[0])


def gather(paths):
    return pd.concat([read_tsv(Path(p)) for p in paths], ignore_index=True)


predictions = [evaluate.hash_folder(Path(p)) for p in snakemake.input.predictions]
evaluate.write_tables(
    gather(snakemake.input.per_image),
    Path(snakemake.output.table3).parent,
    {
        "code_version": __version__,
        "config_hash": snakemake.params.config_hash,
        "predictions_hash": hash_object(predictions),
    },
    raw=gather(snakemake.input.raw),
    penalised=snakemake.params.penalised,
)
