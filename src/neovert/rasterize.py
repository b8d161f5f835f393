"""Polygons -> 5-class label maps on the image grid.

Convention (written once, used everywhere): vertices are in full-resolution pixel coordinates
with (0, 0) the top-left corner of the top-left pixel, x = column, y = row; a pixel belongs to a
polygon when its centre (c + 0.5, r + 0.5) is inside (even-odd rule, half-open edges, so two
polygons sharing an edge never both claim a pixel). Lungs are drawn first and vertebrae on top:
where they overlap the vertebra wins.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from neovert import LABELS
from neovert.io import read_tsv, write_image, write_tsv

STAGE_VERSION = "1"
log = logging.getLogger(__name__)

DRAW_ORDER = ("lung", "T1", "T7", "T12")
VERTEBRAE = ("T1", "T7", "T12")


def polygon_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of the pixels whose centres lie inside the polygon (x, y) `points`."""
    mask = np.zeros(shape, dtype=bool)
    x, y = points[:, 0], points[:, 1]
    # only pixel centres inside the bounding box can be inside the polygon
    c0, c1 = max(int(np.floor(x.min() - 0.5)), 0), min(int(np.ceil(x.max() - 0.5)) + 1, shape[1])
    r0, r1 = max(int(np.floor(y.min() - 0.5)), 0), min(int(np.ceil(y.max() - 0.5)) + 1, shape[0])
    if c0 >= c1 or r0 >= r1:
        return mask
    cx = np.arange(c0, c1) + 0.5
    cy = (np.arange(r0, r1) + 0.5)[:, None]
    inside = np.zeros((r1 - r0, c1 - c0), dtype=bool)
    for (xa, ya), (xb, yb) in zip(points, np.roll(points, -1, axis=0)):
        if ya == yb:
            continue  # horizontal edges never cross a horizontal ray
        crosses = (ya > cy) != (yb > cy)
        x_cross = xa + (cy - ya) * (xb - xa) / (yb - ya)
        inside ^= crosses & (cx < x_cross)
    mask[r0:r1, c0:c1] = inside
    return mask


def rasterize_shapes(shapes: list[dict], shape: tuple[int, int]) -> tuple[np.ndarray, dict]:
    """Label map (uint8) and QC facts for one case."""
    labels = np.zeros(shape, dtype=np.uint8)
    names = [s["label"] for s in shapes]
    qc = {
        "unknown_labels": sum(n not in LABELS or n == "background" for n in names),
        "too_few_points": 0,
        "missing_vertebrae": ",".join(v for v in VERTEBRAE if v not in names),
        "duplicate_vertebrae": ",".join(v for v in VERTEBRAE if names.count(v) > 1),
        "lung_vertebra_overlap_px": 0,
    }
    lung = np.zeros(shape, dtype=bool)
    for name in DRAW_ORDER:
        for item in (s for s in shapes if s["label"] == name):
            points = np.asarray(item["points"], dtype=np.float64)
            if points.ndim != 2 or len(points) < 3:
                qc["too_few_points"] += 1
                continue
            mask = polygon_mask(points, shape)
            if name == "lung":
                lung |= mask
            else:
                qc["lung_vertebra_overlap_px"] += int((mask & lung).sum())
            labels[mask] = LABELS[name]
    return labels, qc


def rasterize_hospital(annotations_dir: Path, manifest: Path, out_dir: Path) -> dict[str, int]:
    """Rasterize every converted case of one hospital onto its image grid (shape and spacing
    from the strip manifest); write labels/<case>.nii.gz and qc.tsv."""
    cases = read_tsv(manifest)
    qc_rows = []
    for case in cases.itertuples(index=False):
        shapes = json.loads((annotations_dir / f"{case.case_id}.json").read_text(encoding="utf-8"))["shapes"]
        labels, qc = rasterize_shapes(shapes, (int(case.rows), int(case.cols)))
        write_image(out_dir / "labels" / f"{case.case_id}.nii.gz", labels,
                    (case.spacing_row_mm, case.spacing_col_mm))
        qc_rows.append({"case_id": case.case_id, **qc,
                        **{f"{n}_px": int((labels == v).sum()) for n, v in LABELS.items() if v}})
    write_tsv(pd.DataFrame(qc_rows), out_dir / "qc.tsv")
    flagged = sum(bool(r["missing_vertebrae"] or r["duplicate_vertebrae"] or r["unknown_labels"]) for r in qc_rows)
    log.info("%d label maps, %d flagged in qc.tsv", len(qc_rows), flagged)
    return {"rasterized": len(qc_rows), "flagged": flagged}
