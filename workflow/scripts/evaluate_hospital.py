"""Snakemake adapter for `evaluate_hospital`: per-image metrics of one hospital's test cases."""

from pathlib import Path

from neovert import evaluate, log
from neovert.io import read_tsv, write_tsv

log.setup(snakemake.log[0])
split = read_tsv(Path(snakemake.input.split))
cases = split[(split.hospital == snakemake.wildcards.hospital) & (split.set == "test")]
per_image = evaluate.score_folder(Path(snakemake.input.predictions), Path(snakemake.input.truth), cases)
write_tsv(per_image, Path(snakemake.output.per_image), float_format="%.17g")
