"""LabelMe 5.x JSON for one image, derived from the same primitives as the pixels.

Vertebrae are the 4 corners of the drawn T1/T7/T12 centrum (TL, TR, BR, BL after rotation);
each lung is its drawing polygon clipped to the image. Coordinates are full-resolution pixels
with (0, 0) at the top-left corner of the top-left pixel (x = column, y = row), so pixel
(r, c) is inside a shape when (c + 0.5, r + 0.5) is. Output bytes are stable: sorted keys,
floats rounded to 2 decimals.
"""

from __future__ import annotations

import json

import numpy as np

from neovert.synth.anatomy import Scene
from neovert.synth.primitives import Frame

LABELME_VERSION = "5.4.1"
VERTEBRAE = ("T1", "T7", "T12")


def labelme(scene: Scene, frame: Frame, image_file: str) -> dict:
    """The LabelMe document; `image_file` is relative to the annotations folder."""
    shapes = [_shape(level, frame.to_pixels(scene.vertebrae[level].corners())) for level in VERTEBRAE]
    for lung in scene.lungs:
        outline = _clip(frame.to_pixels(np.array(lung.points)), frame.cols, frame.rows)
        if len(outline) >= 3:
            shapes.append(_shape("lung", outline))
    return {
        "version": LABELME_VERSION,
        "flags": {},
        "shapes": shapes,
        "imagePath": image_file,
        "imageData": None,
        "imageHeight": frame.rows,
        "imageWidth": frame.cols,
    }


def encode(document: dict) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _shape(label: str, points: np.ndarray) -> dict:
    rounded: list[list[float]] = []
    for x, y in points:
        point = [round(float(x), 2), round(float(y), 2)]
        if not rounded or point != rounded[-1]:
            rounded.append(point)
    if len(rounded) > 1 and rounded[0] == rounded[-1]:
        rounded.pop()
    return {
        "label": label,
        "points": rounded,
        "group_id": None,
        "description": "",
        "shape_type": "polygon",
        "flags": {},
    }


def _clip(points: np.ndarray, width: float, height: float) -> np.ndarray:
    """Sutherland-Hodgman clip of a polygon to [0, width] x [0, height]."""
    poly = [tuple(p) for p in points]
    for axis, bound, keep_below in ((0, 0.0, False), (0, width, True), (1, 0.0, False), (1, height, True)):
        if not poly:
            break

        def inside(p: tuple[float, float]) -> bool:
            return p[axis] <= bound if keep_below else p[axis] >= bound

        def cut(p: tuple[float, float], q: tuple[float, float]) -> tuple[float, float]:
            t = (bound - p[axis]) / (q[axis] - p[axis])
            return (p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1]))

        clipped = []
        for k, current in enumerate(poly):
            previous = poly[k - 1]
            if inside(current):
                if not inside(previous):
                    clipped.append(cut(previous, current))
                clipped.append(current)
            elif inside(previous):
                clipped.append(cut(previous, current))
        poly = clipped
    return np.array(poly, dtype=float).reshape(-1, 2)
