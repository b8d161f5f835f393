"""Primitives -> attenuation map (sum of mu * t along the beam) on the image grid.

Each primitive is evaluated only inside its own pixel bounding box, at pixel centres mapped
back into body mm, which keeps a 1400 px image well under half a second. The map is in
line-integral units, so a Beer-Lambert imaging chain (imaging.py) can sit on top unchanged;
replacing a primitive's profile here (e.g. real ellipsoid chords for the lungs) does not touch
anatomy, framing or labels.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from neovert.synth.anatomy import Scene
from neovert.synth.primitives import Arc, Blob, Frame, Region, Trunk, Tube


def attenuation(scene: Scene, frame: Frame, rng: np.random.Generator) -> np.ndarray:
    """float32 (rows, cols) map of the attenuation line integral; `rng` drives lung texture."""
    out = np.zeros((frame.rows, frame.cols), dtype=np.float32)
    _trunk(out, scene.trunk, frame)
    for prim in scene.primitives:
        if isinstance(prim, Blob):
            _blob(out, prim, frame)
        elif isinstance(prim, Arc):
            _arc(out, prim, frame)
        elif isinstance(prim, Tube):
            _tube(out, prim, frame)
        else:
            _region(out, prim, frame, scene.lung_texture if prim in scene.lungs else 0.0, rng)
    return out


def fill_polygon(
    points_px: np.ndarray, shape: tuple[int, int], box: tuple[int, int, int, int] | None = None
) -> np.ndarray:
    """Boolean mask of pixels whose centre (c + 0.5, r + 0.5) is inside the polygon (even-odd).

    `points_px` are (x, y) in the corner convention; the mask covers `box` = (r0, r1, c0, c1)
    (default: the whole `shape`). This is the same rule the labels are meant to be read with.
    """
    r0, r1, c0, c1 = box if box is not None else (0, shape[0], 0, shape[1])
    pts = np.asarray(points_px, dtype=float)
    xa, ya = pts[:, 0], pts[:, 1]
    xb, yb = np.roll(xa, -1), np.roll(ya, -1)
    yc = (np.arange(r0, r1) + 0.5)[:, None]
    crosses = (ya <= yc) != (yb <= yc)
    with np.errstate(divide="ignore", invalid="ignore"):
        xs = np.where(crosses, xa + (yc - ya) * (xb - xa) / (yb - ya), np.inf)
    xs.sort(axis=1)
    count = crosses.sum(axis=1)
    mask = np.zeros((r1 - r0, c1 - c0 + 1), dtype=np.int32)
    for k in range(0, int(count.max(initial=0)), 2):
        rows = np.nonzero(count > k)[0]
        start = np.clip(np.ceil(xs[rows, k] - 0.5).astype(int) - c0, 0, c1 - c0)
        stop = np.clip(np.ceil(xs[rows, k + 1] - 0.5).astype(int) - c0, 0, c1 - c0)
        np.add.at(mask, (rows, start), 1)
        np.add.at(mask, (rows, stop), -1)
    return np.cumsum(mask, axis=1)[:, :-1] > 0


def _trunk(out: np.ndarray, trunk: Trunk, frame: Frame) -> None:
    xb, yb = frame.body_grid((0, frame.rows, 0, frame.cols))
    half = np.interp(yb, trunk.y_knots, trunk.half_width)
    depth = np.interp(yb, trunk.y_knots, trunk.depth)
    out += (trunk.mu * depth * np.sqrt(np.clip(1 - (xb / half) ** 2, 0, 1))).astype(np.float32)


def _blob(out: np.ndarray, blob: Blob, frame: Frame) -> None:
    box = frame.bbox(blob.corners(), margin_mm=2 * frame.spacing)
    if box is None:
        return
    xb, yb = frame.body_grid(box)
    c, s = math.cos(blob.angle), math.sin(blob.angle)
    dx, dy = xb - blob.cx, yb - blob.cy
    u, v = dx * c + dy * s, -dx * s + dy * c
    r = (np.abs(u / blob.a) ** blob.n + np.abs(v / blob.b) ** blob.n) ** (1 / blob.n)
    if blob.profile == "dome":
        value = np.sqrt(np.clip(1 - r * r, 0, 1))
    else:
        # one-pixel anti-aliased edge at r = 1, brighter cortex in the outer quarter
        inside = np.clip((1 - r) * min(blob.a, blob.b) / frame.spacing + 0.5, 0, 1)
        cortex = np.clip((r - 0.70) / 0.30, 0, 1) ** 2
        value = inside * (1 + blob.rim * cortex)
    _add(out, box, blob.density * value)


def _arc(out: np.ndarray, arc: Arc, frame: Frame) -> None:
    """A rib's bounding box is mostly empty, so the tube is evaluated piecewise in the boxes
    of short centreline chunks; overlapping chunks compute identical values, so assigning
    them into one patch (then adding the patch once) counts every pixel once."""
    line = arc.centreline(64)
    margin = arc.half_width + 2 * frame.spacing
    box = frame.bbox(line, margin_mm=margin)
    if box is None:
        return
    patch = np.zeros((box[1] - box[0], box[3] - box[2]), dtype=np.float32)
    for start in range(0, len(line) - 1, 8):
        sub = frame.bbox(line[start : start + 9], margin_mm=margin)
        if sub is not None:
            r0, r1, c0, c1 = sub[0] - box[0], sub[1] - box[0], sub[2] - box[2], sub[3] - box[2]
            patch[r0:r1, c0:c1] = _arc_values(arc, frame, sub)
    _add(out, box, patch)


def _arc_values(arc: Arc, frame: Frame, box: tuple[int, int, int, int]) -> np.ndarray:
    xb, yb = frame.body_grid(box)
    x = arc.side * (xb - arc.cx) / arc.rx
    y = -(yb - arc.cy) / arc.ry
    rho = np.maximum(np.hypot(x, y), 1e-9)
    grad = np.hypot(x / arc.rx, y / arc.ry) / rho
    dist = (rho - 1) / np.maximum(grad, 1e-9)  # first-order distance to the ellipse, in mm
    t = np.arctan2(y, x)
    weight = np.interp(t, arc.knots, arc.weights, left=0.0, right=0.0)
    outer = np.sqrt(np.clip(1 - (dist / arc.half_width) ** 2, 0, 1))
    marrow = np.sqrt(np.clip(1 - (dist / (0.6 * arc.half_width)) ** 2, 0, 1))
    return (arc.density * weight * (outer - 0.5 * 0.6 * marrow)).astype(np.float32)


def _tube(out: np.ndarray, tube: Tube, frame: Frame) -> None:
    """Chord length through the tube wall at each pixel's distance from the centreline. The
    distance is the minimum over short runs of segments, each evaluated in its own box (a
    catheter's bounding box is mostly empty), then turned into chords once."""
    line = np.asarray(tube.points, dtype=float)
    margin = tube.radius + 2 * frame.spacing
    box = frame.bbox(line, margin_mm=margin)
    if box is None:
        return
    dist = np.full((box[1] - box[0], box[3] - box[2]), np.inf, dtype=np.float32)
    for start in range(0, len(line) - 1, 8):
        run = line[start : start + 9]
        sub = frame.bbox(run, margin_mm=margin)
        if sub is None:
            continue
        xb, yb = frame.body_grid(sub)
        a, d = run[:-1], np.diff(run, axis=0)
        px, py = xb[..., None] - a[:, 0], yb[..., None] - a[:, 1]
        t = np.clip((px * d[:, 0] + py * d[:, 1]) / np.maximum((d**2).sum(axis=1), 1e-12), 0, 1)
        near = np.hypot(px - t * d[:, 0], py - t * d[:, 1]).min(axis=-1)
        r0, r1, c0, c1 = sub[0] - box[0], sub[1] - box[0], sub[2] - box[2], sub[3] - box[2]
        np.minimum(dist[r0:r1, c0:c1], near, out=dist[r0:r1, c0:c1])
    d2 = dist.astype(np.float64) ** 2
    inner = max(tube.radius - tube.wall, 0.0)
    chord = 2 * np.sqrt(np.clip(tube.radius**2 - d2, 0, None)) - 2 * np.sqrt(np.clip(inner**2 - d2, 0, None))
    _add(out, box, tube.mu * chord)


def _region(out: np.ndarray, region: Region, frame: Frame, texture: float, rng: np.random.Generator) -> None:
    points = np.array(region.points)
    sigma = region.edge_mm / frame.spacing
    box = frame.bbox(points, margin_mm=region.edge_mm * 3 + frame.spacing)
    if box is None:
        return
    mask = fill_polygon(frame.to_pixels(points), (frame.rows, frame.cols), box).astype(np.float32)
    soft = ndimage.gaussian_filter(mask, sigma, mode="constant")
    xb, yb = frame.body_grid(box)
    lo, hi = points.min(axis=0), points.max(axis=0)
    su = np.sin(np.pi * np.clip((xb - lo[0]) / (hi[0] - lo[0]), 0, 1))
    sv = np.sin(np.pi * np.clip((yb - lo[1]) / (hi[1] - lo[1]), 0, 1))
    depth = 0.55 + 0.45 * np.sqrt(su * sv)  # thicker in the middle (of a hemithorax, a scapula)
    if texture > 0:  # ground glass in the lungs only
        depth = depth * (1 - 0.5 * texture * _smooth_noise(soft.shape, 2.0 / frame.spacing, rng))
    _add(out, box, region.density * soft * depth)


def _smooth_noise(shape: tuple[int, int], cell_px: float, rng: np.random.Generator) -> np.ndarray:
    """Blotchy noise in [0, 1] with features about `cell_px` wide (ground-glass opacity)."""
    step = max(1, int(round(cell_px)))
    coarse = rng.random((shape[0] // step + 2, shape[1] // step + 2)).astype(np.float32)
    fine = ndimage.zoom(coarse, step, order=1, grid_mode=True, mode="nearest")
    return fine[: shape[0], : shape[1]]


def _add(out: np.ndarray, box: tuple[int, int, int, int], values: np.ndarray) -> None:
    r0, r1, c0, c1 = box
    out[r0:r1, c0:c1] += values.astype(np.float32)

