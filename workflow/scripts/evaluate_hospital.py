"""Snakemake adapter for `evaluate_hospital`: per-image metrics of one hospital's test cases,
after post-processing and on the raw predictions (to show what post-processing changed)."""

from pathlib import Path

from neovert import evaluate, log
from neovert.io import read_tsv, write_tsv

log.setup(snakemake.log[0])
split = read_tsv(Path(snakemake.input.split))
cases = split[(split.hospital == snakemake.wildcards.hospital) & (split.set == "test")]
for predictions, table in ((snakemake.input.predictions, snakemake.output.per_image),
                           (snakemake.input.raw, snakemake.output.raw)):
    per_image = evaluate.score_folder(Path(predictions), Path(snakemake.input.truth), cases, snakemake.threads)
    write_tsv(per_image, Path(table), float_format="%.17g")
