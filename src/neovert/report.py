"""The audit report: one self-contained HTML page with the result tables and overlays.

Overlays follow the paper's Figure 2 colours: prediction red, truth green, overlap yellow.
Images are embedded as base64 PNGs so the page can be mailed to a hospital as one file.
"""

from __future__ import annotations

import base64
import html
import logging
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from neovert.io import read_image, read_tsv, write_text

STAGE_VERSION = "3"  # 3: the by_hard_film table
log = logging.getLogger(__name__)


# What the numbers mean, on the page itself: an auditor reads the report, not the code.
DEFINITIONS = """<h2>Definitions</h2><ul>
<li>DSC = 2|A&cap;B|/(|A|+|B|), IoU = |A&cap;B|/|A&cup;B| per image and class (lung, T1, T7, T12).</li>
<li>HD95 (mm): DeepMind surface-distance definition: contours on the pixel-corner grid weighted by
contour length; per direction the length-weighted 95th percentile; the larger of the two directions;
each image's own (row, col) spacing.</li>
<li>MSD (mm): length-weighted mean distance over both directions pooled.</li>
<li>A structure present on one side only is <i>missed</i> or <i>spurious</i>: DSC = IoU = 0, HD95 = MSD =
+inf, counted in n_missed / n_spurious and left out of the HD95/MSD means (n_valid says how many went
in). Both empty: excluded and counted (n_both_empty).</li>
<li>95% CI = mean &plusmn; 1.96&middot;SD/&radic;n, n = images (the paper's method); patient-level tables use
n = patients.</li>
<li>Post-processing keeps the largest 8-connected component of each vertebra class (ties kept).</li>
</ul>"""


def overlay(image: np.ndarray, prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """RGB uint8: grey radiograph, vertebra prediction red, truth green, both yellow."""
    low, high = np.percentile(image, (1, 99))
    grey = np.clip((image - low) / max(high - low, 1e-6) * 255, 0, 255).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    pred, true = prediction >= 2, truth >= 2
    rgb[pred & ~true] = (255, 0, 0)
    rgb[true & ~pred] = (0, 255, 0)
    rgb[pred & true] = (255, 255, 0)
    return rgb


def _png_base64(rgb: np.ndarray, longest: int = 512) -> str:
    """PNG thumbnail (every k-th pixel, longest side <= `longest`): keeps the page mailable."""
    step = -(-max(rgb.shape[:2]) // longest)
    rgb = np.ascontiguousarray(rgb[::step, ::step])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "overlay.png"
        sitk.WriteImage(sitk.GetImageFromArray(rgb, isVector=True), str(path))
        return base64.b64encode(path.read_bytes()).decode()


def _table(path: Path, title: str) -> str:
    frame = read_tsv(path)
    notes = [line[1:].strip() for line in path.read_text().splitlines() if line.startswith("#")]
    caption = "<br>".join(html.escape(n) for n in notes)
    return f"<h2>{html.escape(title)}</h2><p class=note>{caption}</p>" + frame.to_html(
        index=False, float_format=lambda v: f"{v:.4f}", na_rep="–", border=0)


def build_report(tables: dict[str, Path], per_image: Path, folders: dict[str, Path], out: Path,
                 per_hospital: int = 2) -> None:
    """Write the HTML report; `folders` maps images/predictions/truth to their parents
    (results/strip, results/postprocess, results/rasterize) and shows `per_hospital` test
    cases per hospital, the worst T7 Dice first so an auditor sees failures, not showcases."""
    scores = read_tsv(per_image)
    picks = (scores[scores["class"] == "T7"].sort_values(["hospital", "dsc", "case_id"])
             .groupby("hospital").head(per_hospital))
    figures = []
    for case in picks.itertuples(index=False):
        image, _ = read_image(folders["images"] / case.hospital / "images" / f"{case.case_id}.nii.gz")
        pred, _ = read_image(folders["predictions"] / case.hospital / f"{case.case_id}.nii.gz")
        truth, _ = read_image(folders["truth"] / case.hospital / "labels" / f"{case.case_id}.nii.gz")
        figures.append(f"<figure><img src='data:image/png;base64,{_png_base64(overlay(image, pred, truth))}'>"
                       f"<figcaption>{case.case_id}: T7 DSC {case.dsc:.3f}</figcaption></figure>")
    body = "".join(_table(path, title) for title, path in tables.items())
    page = (
        "<!doctype html><meta charset=utf-8><title>neovert audit report</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:90%}"
        "td,th{padding:2px 8px;border-bottom:1px solid #ddd}.note{color:#555;font-size:85%}"
        "figure{display:inline-block;margin:4px}img{max-height:320px}</style>"
        "<h1>neovert audit report</h1><p>Overlays: prediction red, ground truth green, overlap yellow "
        "(vertebrae only); lowest T7 DSC per hospital first.</p>"
        f"{DEFINITIONS}{body}<h2>Overlays</h2>{''.join(figures)}"
    )
    write_text(out, page)
    log.info("report with %d tables and %d overlays", len(tables), len(figures))
