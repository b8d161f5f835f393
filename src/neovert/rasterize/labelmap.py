"""One annotation document -> one 5-class label map on its image's grid, with every finding.

Order of work: the document's stated size against the image (a uniform rescale is undone, any
other mismatch excludes the case); each shape to a clean polygon (or a reason it was dropped);
lungs drawn first and vertebrae on top, so where they overlap the vertebra wins; then the checks on
the finished map (missing or doubled vertebrae, order along the spine, plausible size).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neovert import LABELS
from neovert.rasterize import polygons
from neovert.rasterize.qc import VERTEBRAE, Issue, anatomy_issues, status

DRAW_ORDER = ("lung", *VERTEBRAE)
# A stated size within this relative difference of the image's aspect ratio is a resized copy
# (export rounding of a 4x downsampled 2,500 px image moves the ratio by < 0.1%).
ASPECT_TOLERANCE = 0.01


@dataclass
class LabelMap:
    """The label map (None when the case is excluded), its findings and the counts for qc.tsv."""

    labels: np.ndarray | None
    issues: list[Issue]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return status(self.issues)


def rasterize_document(document: dict, shape: tuple[int, int], spacing_rc: tuple[float, float]) -> LabelMap:
    """Label map of one annotation document (formats.py) on an image of `shape` (rows, cols)."""
    scale, issues = _scale(document.get("imageWidth"), document.get("imageHeight"), shape)
    if scale is None:
        return LabelMap(None, issues)
    names = [item.get("label") for item in document["shapes"]]
    issues += [Issue("duplicate_label", name, f"{names.count(name)} shapes") for name in VERTEBRAE
               if names.count(name) > 1]
    masks: dict[str, list[np.ndarray]] = {name: [] for name in DRAW_ORDER}
    outside = 0
    for item in document["shapes"]:
        if item.get("label") not in masks:
            issues.append(Issue("unknown_label"))  # the name itself may be any text: not copied
            continue
        mask, found, clipped = _shape_mask(item, scale, shape)
        issues += found
        outside += clipped
        if mask is not None:
            masks[item["label"]].append(mask)

    labels = np.zeros(shape, dtype=np.uint8)
    lung = np.logical_or.reduce(masks["lung"]) if masks["lung"] else np.zeros(shape, dtype=bool)
    labels[lung] = LABELS["lung"]
    for name in VERTEBRAE:
        for mask in masks[name]:
            labels[mask] = LABELS[name]
    overlap = int((lung & (labels > LABELS["lung"])).sum())
    if overlap:
        issues.append(Issue("lung_vertebra_overlap", "", f"{overlap} px"))
    issues += [Issue("missing_vertebra", name) for name in VERTEBRAE if not (labels == LABELS[name]).any()]
    if not lung.any():
        issues.append(Issue("missing_lung", "lung"))
    issues += anatomy_issues(labels, spacing_rc)
    counts = {"points_outside": outside, "lung_vertebra_overlap_px": overlap,
              **{f"{name}_px": int((labels == value).sum()) for name, value in LABELS.items() if value}}
    return LabelMap(None if status(issues) == "excluded" else labels, issues, counts)


def _scale(width, height, shape: tuple[int, int]) -> tuple[tuple[float, float] | None, list[Issue]]:
    """(x, y) factors from the annotation's canvas to the image's: (1, 1) when they match."""
    rows, cols = shape
    if not width or not height:
        return (1.0, 1.0), [Issue("size_unstated")]
    if (width, height) == (cols, rows):
        return (1.0, 1.0), []
    detail = f"{width}x{height} -> {cols}x{rows}"
    scale = (cols / width, rows / height)
    if abs(scale[0] / scale[1] - 1) > ASPECT_TOLERANCE:
        return None, [Issue("size_mismatch", "", detail)]
    return scale, [Issue("rescaled", "", detail)]


def _shape_mask(item: dict, scale: tuple[float, float],
                shape: tuple[int, int]) -> tuple[np.ndarray | None, list[Issue], int]:
    """The shape's pixels (None when it cannot be drawn), its findings, and how many of its
    vertices lie outside the image."""
    label, kind = item["label"], item.get("shape_type") or "polygon"
    if kind not in ("polygon", "rectangle", "rotation"):  # X-AnyLabeling's rotated box is 4 corners
        return None, [Issue("not_a_polygon", label)], 0
    try:
        points = np.asarray(item["points"], dtype=np.float64)
    except (TypeError, ValueError):
        return None, [Issue("bad_points", label)], 0
    if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all() or (
            kind == "rectangle" and len(points) != 2):
        return None, [Issue("bad_points", label)], 0
    if kind == "rectangle":
        points = polygons.rectangle_corners(points)
    points = polygons.drop_repeats(points * scale)
    if len(points) < 3:
        return None, [Issue("too_few_points", label, f"{len(points)} distinct")], 0
    issues = []
    outside = polygons.outside_count(points, shape)
    if outside:
        issues.append(Issue("points_outside_image", label, f"{outside} of {len(points)}"))
    if polygons.self_intersects(points):
        if len(points) > 4:
            issues.append(Issue("self_intersecting", label))
        else:
            points = polygons.untangle_quad(points)
            if points is None:
                return None, [*issues, Issue("bowtie_ambiguous", label)], outside
            issues.append(Issue("bowtie_repaired", label))
    mask = polygons.polygon_mask(points, shape)
    if not mask.any():
        return None, [*issues, Issue("no_pixels", label)], outside
    return mask, issues, outside
