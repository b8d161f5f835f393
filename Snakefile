# neovert: neonatal chest radiographs from hospital DICOM to audited per-hospital T1/T7/T12 results.
# This file is the table of contents; helpers live in workflow/rules/common.smk, logic in src/neovert.


from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"


wildcard_constraints:
    hospital="|".join(HOSPITALS),



include: "workflow/rules/synth.smk"
include: "workflow/rules/deid.smk"
include: "workflow/rules/strip.smk"
include: "workflow/rules/rasterize.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/nnunet.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/postprocess.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        rules.evaluate.input,
        rules.report.input,


# After a failed run (with --keep-going the other hospitals carry on): one table of what failed
# for which hospital and why, printed and kept in logs/failures.tsv; a later success removes it.
onerror:
    import sys

    from neovert import failures

    table = failures.write_summary(log, Path.cwd(), Path("logs/failures.tsv"))
    print("Failed jobs (logs/failures.tsv):", table.to_string(index=False), sep="\n", file=sys.stderr)


onsuccess:
    Path("logs/failures.tsv").unlink(missing_ok=True)
