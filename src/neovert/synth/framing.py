"""Field of view: in-plane rotation, pixel spacing, and where the image edges fall.

Real collimation varies a lot (top border from C2 to T1, bottom from L1 to the pelvis, chest
off-centre), and the position of T1/T7/T12 in the image must not be predictable from the
hospital or the image size. The only hard rule is that C6-C7 above T1 and L1 below T12 are
always fully inside, so that counting from either end is possible.
"""

from __future__ import annotations

import math

import numpy as np

from neovert.synth.anatomy import Scene
from neovert.synth.primitives import Frame, rotate
from neovert.synth.profiles import VendorProfile

MAX_SIDE_PX = 1400  # keeps one image well under 0.5 s to draw and ~4 MB to store
_MARGIN_MM = 1.5
_REQUIRED = ("C6", "C7", *(f"T{i}" for i in range(1, 13)), "L1")


def choose_frame(scene: Scene, profile: VendorProfile, rng: np.random.Generator) -> Frame:
    """Pick rotation, spacing and the image rectangle for one image."""
    if rng.random() < 0.75:
        angle = float(np.clip(rng.normal(0, 5), -10, 10))
    else:
        angle = rng.uniform(-15, 15)
    angle = math.radians(angle)
    spacing = profile.spacings_mm[0]
    if len(profile.spacings_mm) > 1 and rng.random() < 0.35:
        spacing = profile.spacings_mm[int(rng.integers(1, len(profile.spacings_mm)))]

    v = scene.vertebrae
    required = rotate(np.concatenate([v[level].corners() for level in _REQUIRED]), angle)
    top_y = rng.uniform(v["C2"].cy, v["C6"].cy - v["C6"].b)
    kind = rng.random()
    if kind < 0.70:
        bottom_y = rng.uniform(v["L1"].cy + v["L1"].b, v["L3"].cy + v["L3"].b)
    elif kind < 0.85:
        bottom_y = rng.uniform(v["L3"].cy + v["L3"].b, v["L5"].cy + v["L5"].b)
    else:
        bottom_y = v["L5"].cy + v["L5"].b + rng.uniform(8, 30)  # babygram reaching the pelvis
    ends = rotate(np.array([[scene.spine_x(top_y), top_y], [scene.spine_x(bottom_y), bottom_y]]), angle)
    y0 = min(ends[0, 1], required[:, 1].min() - _MARGIN_MM)
    y1 = max(ends[1, 1], required[:, 1].max() + _MARGIN_MM)

    trunk = scene.trunk
    width = 2 * float(np.interp(v["T8"].cy, trunk.y_knots, trunk.half_width)) * rng.uniform(1.0, 1.45)
    centre = rotate(np.array([[v["T6"].cx, v["T6"].cy]]), angle)[0, 0] + rng.uniform(-0.15, 0.15) * width
    x0 = centre - width / 2
    x0 = min(x0, required[:, 0].min() - _MARGIN_MM)
    x0 = max(x0, required[:, 0].max() + _MARGIN_MM - width)
    x1 = x0 + width

    need_h = required[:, 1].max() - required[:, 1].min() + 2 * _MARGIN_MM
    need_w = required[:, 0].max() - required[:, 0].min() + 2 * _MARGIN_MM
    if max(need_h, need_w) > MAX_SIDE_PX * spacing:
        spacing = max(max(profile.spacings_mm), max(need_h, need_w) / MAX_SIDE_PX)
    limit = MAX_SIDE_PX * spacing
    y0, y1 = _fit(y0, y1, required[:, 1].min() - _MARGIN_MM, required[:, 1].max() + _MARGIN_MM, limit)
    x0, x1 = _fit(x0, x1, required[:, 0].min() - _MARGIN_MM, required[:, 0].max() + _MARGIN_MM, limit)
    rows = min(MAX_SIDE_PX, math.ceil((y1 - y0) / spacing))
    cols = min(MAX_SIDE_PX, math.ceil((x1 - x0) / spacing))
    return Frame(angle=angle, shift=(-x0, -y0), spacing=spacing, rows=rows, cols=cols)


def _fit(lo: float, hi: float, keep_lo: float, keep_hi: float, limit: float) -> tuple[float, float]:
    """Shrink [lo, hi] to at most `limit`, trimming the side with more slack beyond the
    span [keep_lo, keep_hi] that must stay visible (assumed to fit)."""
    excess = (hi - lo) - limit
    if excess <= 0:
        return lo, hi
    slack_lo, slack_hi = keep_lo - lo, hi - keep_hi
    cut_lo = min(slack_lo, max(excess / 2, excess - slack_hi))
    return lo + cut_lo, hi - (excess - cut_lo)
