"""Snakemake adapter for `synth`: generate the demo cohort."""

from pathlib import Path

from neovert import log
from neovert.synth import generate_cohort

if __name__ == "__main__":  # the generator's process pool re-imports this file in its workers
    log.setup(snakemake.log[0])
    generate_cohort(
        Path(snakemake.output.cohort).parent,
        scale=snakemake.params.scale,
        seed=snakemake.params.seed,
        per_hospital=snakemake.params.per_hospital,
        workers=snakemake.threads,
    )
