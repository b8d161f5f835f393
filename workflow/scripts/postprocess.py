"""Snakemake adapter for `postprocess`: largest component per vertebra class, one hospital."""

from pathlib import Path

from neovert import log, postprocess

log.setup(snakemake.log[0])
postprocess.postprocess_folder(Path(snakemake.input.predictions), Path(snakemake.output.labels),
                               postprocess.components_to_keep(snakemake.params.lung_components))
