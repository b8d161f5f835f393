"""Snakemake adapter for `report`: tables and overlays into one HTML page."""

from pathlib import Path

from neovert import log, report

log.setup(snakemake.log[0])
report.build_report(
    {
        "Table 3: segmentation performance (image level)": Path(snakemake.input.table3),
        "Table 4: share of images at or above each DSC cutoff": Path(snakemake.input.table4),
        "Per hospital": Path(snakemake.input.by_hospital),
        "Hard films (flagged vs the rest)": Path(snakemake.input.by_hard_film),
        "Effect of post-processing per hospital": Path(snakemake.input.postprocess_effect),
    },
    Path(snakemake.input.per_image),
    {"images": Path("results/strip"), "predictions": Path("results/postprocess"), "truth": Path("results/rasterize")},
    Path(snakemake.output.html),
)
