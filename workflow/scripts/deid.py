"""Snakemake adapter for `deid`: one hospital's delivery to de-identified DICOM."""

from pathlib import Path

from neovert import deid, log, provenance
from neovert.pseudonym import load_key

log.setup(snakemake.log[0])
secrets = Path(snakemake.params.secrets).expanduser()
hospital = snakemake.wildcards.hospital
counts = deid.deid_hospital(
    delivery=Path(snakemake.input.clinical).parent,
    hospital=hospital,
    key=load_key(secrets / "pseudonym.key", snakemake.params.key_env),
    out_dir=Path(snakemake.output.cases).parent,
    map_file=secrets / "maps" / f"{hospital}.tsv",
    workers=snakemake.threads,
    annotation_format=snakemake.params.annotation_format,
)
provenance.write(Path(snakemake.output.provenance), "deid", snakemake.params.stage_version, {"hospital": hospital}, counts)
