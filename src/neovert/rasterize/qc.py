"""Reason codes for everything rasterize finds wrong with an annotation, and the anatomical checks.

Each code has one severity, so a case's status follows from its codes alone:
- `info`: recorded and handled as the convention says (clipped points, lung under a vertebra, a
  traced outline that loops over itself);
- `flagged`: a label map is written but a person should look (a repaired or dropped shape, an
  anatomical implausibility: flagged, never silently fixed);
- `excluded`: no label map is written and the case must not be trained or scored on (its truth
  would be wrong or incomplete: a vertebra missing or doubled, no usable image or annotation).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from neovert import LABELS

VERTEBRAE = ("T1", "T7", "T12")
REASONS = {
    # the case as a whole
    "annotation_missing": ("excluded", "the image has no annotation"),
    "unreadable_annotation": ("excluded", "the annotation file is not a readable annotation document"),
    "image_missing": ("excluded", "an annotation whose image is in neither the strip manifest nor its quarantine"),
    "image_quarantined": ("excluded", "an annotation whose image strip quarantined (its reason in detail)"),
    "size_mismatch": ("excluded", "the annotation's stated size is not a uniform rescale of the image"),
    "rescaled": ("flagged", "coordinates were made on a resized image; scaled to the image's size"),
    "size_unstated": ("flagged", "the annotation states no image size, so a resized image cannot be detected"),
    # one shape
    "unknown_label": ("flagged", "a label name that is not one of neovert.LABELS; the shape is ignored"),
    "not_a_polygon": ("flagged", "a shape type other than polygon or rectangle; ignored"),
    "bad_points": ("flagged", "points that are not finite (x, y) pairs; the shape is ignored"),
    "too_few_points": ("flagged", "fewer than 3 distinct vertices; the shape is ignored"),
    "bowtie_repaired": ("flagged", "a self-intersecting quadrilateral, reordered into its one simple order"),
    "bowtie_ambiguous": ("flagged", "a self-intersecting quadrilateral with no unambiguous repair; ignored"),
    "self_intersecting": ("info", "a polygon of 5+ vertices whose edges cross (a traced outline looping over "
                                  "itself); filled by the even-odd rule"),
    "points_outside_image": ("info", "vertices outside the image; the polygon is clipped to it"),
    "no_pixels": ("flagged", "the polygon covers no pixel centre of the image; ignored"),
    # the label map
    "duplicate_label": ("excluded", "a vertebra drawn more than once"),
    "missing_vertebra": ("excluded", "a vertebra with no pixel in the label map"),
    "missing_lung": ("flagged", "no lung pixel in the label map"),
    "lung_vertebra_overlap": ("info", "lung and vertebra polygons overlap; the vertebra keeps the pixels"),
    "vertebra_order": ("flagged", "T1, T7 and T12 are not in this order from top to bottom"),
    "implausible_size": ("flagged", "a vertebra's area in mm2 is outside VERTEBRA_AREA_MM2"),
}
# Neonatal thoracic centra are about 2.5-8 mm tall and 4-15 mm wide on a radiograph (23 weeks to
# term, projection magnification included): 10-150 mm2 (the demo cohort: 11-80 mm2). The bounds
# leave a wide margin for annotator style and still catch most spacings wrong by 3x (area goes
# with its square) and a lung labelled as a vertebra (> 500 mm2).
VERTEBRA_AREA_MM2 = (3.0, 400.0)


class Issue(NamedTuple):
    """One finding: a code of REASONS, the label it concerns ("" for the whole case), a detail
    made of numbers and label names only (never annotation text, which may hold anything)."""

    reason: str
    label: str = ""
    detail: str = ""


def status(issues: list[Issue]) -> str:
    """"excluded" or "flagged" when any issue has that severity, else "ok" (info only or none)."""
    severities = {REASONS[i.reason][0] for i in issues}
    return "excluded" if "excluded" in severities else "flagged" if "flagged" in severities else "ok"


def anatomy_issues(labels: np.ndarray, spacing_rc: tuple[float, float]) -> list[Issue]:
    """T1 above T7 above T12 (by centroid row), and every vertebra's area plausible in mm2."""
    issues = []
    rows = {}
    pixel_mm2 = float(spacing_rc[0]) * float(spacing_rc[1])
    low, high = VERTEBRA_AREA_MM2
    for name in VERTEBRAE:
        found = np.nonzero(labels == LABELS[name])[0]
        if found.size:
            rows[name] = float(found.mean())
            area = found.size * pixel_mm2
            if not low <= area <= high:
                issues.append(Issue("implausible_size", name, f"{area:.1f} mm2"))
    present = [name for name in VERTEBRAE if name in rows]
    if [rows[n] for n in present] != sorted(rows[n] for n in present):
        order = sorted(present, key=rows.get)
        issues.append(Issue("vertebra_order", "", "top to bottom: " + ", ".join(order)))
    return issues
