"""The mean-position baseline: put every image's T1, T7 and T12 at the cohort's mean place.

A model that ignores the pixels must fail on this cohort, or the framing leaks the labels and
every DSC reported on it is inflated (notes 4.6: DSC < 0.2). A lazy model could use any of
three frames of reference, so the mean quadrilateral is taken in each: coordinates divided by
the image size, pixels from the top-left corner, and millimetres from it (what a network sees
after resampling to one spacing). Labels come from `generate.layout`, so a whole cohort is
scored in seconds without drawing a pixel.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from neovert.synth import labels
from neovert.synth.cohort import ImagePlan
from neovert.synth.generate import layout
from neovert.synth.render import fill_polygon

FRAMES = ("normalised", "pixels", "mm")


class Case:
    """One image's vertebra quadrilaterals (pixels, corner convention), size and spacing."""

    def __init__(self, document: dict, spacing: float) -> None:
        self.quads = {
            shape["label"]: np.asarray(shape["points"], dtype=float)
            for shape in document["shapes"]
            if shape["label"] in labels.VERTEBRAE
        }
        self.rows, self.cols = int(document["imageHeight"]), int(document["imageWidth"])
        self.spacing = spacing

    def scale(self, frame: str) -> np.ndarray:
        """Pixels per unit of `frame` (x, y)."""
        if frame == "normalised":
            return np.array([self.cols, self.rows], dtype=float)
        return np.ones(2) if frame == "pixels" else np.full(2, 1 / self.spacing)


def planned_cases(seed: int, plans: Iterable[ImagePlan]) -> list[Case]:
    """The labels `generate_cohort` writes for these plans, from anatomy and framing only."""
    cases = []
    for plan in plans:
        scene, frame = layout(seed, plan)
        cases.append(Case(labels.labelme(scene, frame, ""), frame.spacing))
    return cases


def mean_position_dsc(cases: Sequence[Case]) -> dict[str, dict[str, float]]:
    """Mean DSC over `cases` of the mean-position prediction, per frame and vertebra."""
    scores: dict[str, dict[str, float]] = {}
    for frame in FRAMES:
        scores[frame] = {}
        for level in labels.VERTEBRAE:
            mean = np.mean([case.quads[level] / case.scale(frame) for case in cases], axis=0)
            dsc = [_dsc(case.quads[level], mean * case.scale(frame), case.rows, case.cols) for case in cases]
            scores[frame][level] = float(np.mean(dsc))
    return scores


def _dsc(truth: np.ndarray, pred: np.ndarray, rows: int, cols: int) -> float:
    """DSC of two polygons rasterized at pixel centres, computed on their joint bounding box."""
    both = np.vstack([truth, pred])
    r0, c0 = (max(0, int(np.floor(v))) for v in both.min(axis=0)[::-1])
    r1, c1 = min(rows, int(np.ceil(both[:, 1].max()))), min(cols, int(np.ceil(both[:, 0].max())))
    if r1 <= r0 or c1 <= c0:
        return 0.0
    box = (r0, r1, c0, c1)
    a, b = fill_polygon(truth, (rows, cols), box), fill_polygon(pred, (rows, cols), box)
    total = int(a.sum()) + int(b.sum())
    return 2 * int((a & b).sum()) / total if total else 0.0
