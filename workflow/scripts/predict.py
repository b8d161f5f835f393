"""Snakemake adapter for `predict`: one hospital's test cases through the trained model."""

from pathlib import Path

from neovert import log, nnunet

log.setup(snakemake.log[0])
nnunet.predict(
    nnunet.hospital_test_cases(Path(snakemake.input.split), snakemake.wildcards.hospital),
    images=Path(snakemake.input.images),
    out_dir=Path(snakemake.output.predictions),
    paths=snakemake.params.paths,
    setup=nnunet.Setup(**snakemake.params.setup),
    threads=snakemake.threads,
)
