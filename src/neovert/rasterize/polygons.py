"""Polygon geometry for the label maps: the pixel rule, vertex clean-up and bow-tie repair.

The pixel rule (the project's one convention, also stated in the package docstring): vertices are
(x, y) = (column, row) in full-resolution pixel coordinates, (0, 0) the top-left corner of the
top-left pixel; pixel (r, c) belongs to the polygon when its centre (c + 0.5, r + 0.5) is inside
by the even-odd rule. A centre exactly on an edge goes to the polygon on its right/below
(top-left fill rule: edges are half-open), so polygons that share an edge never both claim a pixel
and a tiling of polygons covers every pixel once. With float vertices this is what
`skimage.draw.polygon(y - 0.5, x - 0.5, shape)` computes, pixel for pixel; the tests pin that and
measure OpenCV and pycocotools beside it (tests/unit/test_rasterize_agreement.py).
"""

from __future__ import annotations

import numpy as np

# A bow-tie is reordered only if every vertex of the repaired quadrilateral is farther than this
# (in pixels) from the chord of its two neighbours: nearer, a click error of half a pixel could put
# it inside the triangle of the other three, where all three vertex orders are simple and none can
# be preferred.
UNTANGLE_MARGIN_PX = 0.5


def polygon_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of the pixels whose centres lie inside the polygon (x, y) `points`; the parts
    outside the image are simply not drawn (the same pixels as clipping the polygon first).

    Scanline form of the even-odd rule: on the row through centre y, every edge crossing at x
    toggles "inside" for all centres at or right of x, so a row is the running parity of its
    toggles. Cost grows with rows x edges plus pixels, never pixels x edges."""
    rows, cols = shape
    mask = np.zeros(shape, dtype=bool)
    x, y = points[:, 0], points[:, 1]
    x_next, y_next = np.roll(x, -1), np.roll(y, -1)
    first, stop = max(int(np.ceil(y.min() - 0.5)), 0), min(int(np.ceil(y.max() - 0.5)), rows)
    left = min(max(int(np.ceil(x.min() - 0.5)), 0), cols)
    if first >= stop:
        return mask
    centre_y = np.arange(first, stop) + 0.5
    # half-open in y: an edge counts on rows whose centre is in [min(ya, yb), max(ya, yb))
    row, edge = np.nonzero((y[None, :] > centre_y[:, None]) != (y_next[None, :] > centre_y[:, None]))
    # each edge interpolated from its upper end, so that two polygons sharing an edge (in opposite
    # directions) get bit-identical crossings and split its pixels without overlap or gap; and
    # multiplied before dividing, so a crossing exactly on a pixel centre (integer clicks) stays exact
    down = y[edge] < y_next[edge]
    xa, ya = np.where(down, x[edge], x_next[edge]), np.where(down, y[edge], y_next[edge])
    xb, yb = np.where(down, x_next[edge], x[edge]), np.where(down, y_next[edge], y[edge])
    x_cross = xa + (centre_y[row] - ya) * (xb - xa) / (yb - ya)
    column = np.clip(np.ceil(x_cross - 0.5), left, cols).astype(np.intp) - left  # first centre >= x_cross
    toggles = np.zeros((stop - first, cols - left + 1), dtype=np.int32)
    np.add.at(toggles, (row, column), 1)
    mask[first:stop, left:] = np.cumsum(toggles[:, :-1], axis=1) % 2 == 1
    return mask


def rectangle_corners(points: np.ndarray) -> np.ndarray:
    """The four corners of an axis-aligned box given by two opposite corners (LabelMe rectangle)."""
    (x0, y0), (x1, y1) = points
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def drop_repeats(points: np.ndarray) -> np.ndarray:
    """Without consecutive repeated vertices or a closing copy of the first (COCO, CVAT and
    DICOM SCOORD exports may close their rings; LabelMe does not)."""
    keep = np.any(points != np.roll(points, 1, axis=0), axis=1)
    if not keep.any():  # every vertex the same point
        keep[0] = True
    return points[keep]


def outside_count(points: np.ndarray, shape: tuple[int, int]) -> int:
    """Vertices outside the image canvas [0, cols] x [0, rows] (a vertex on its border is inside)."""
    rows, cols = shape
    x, y = points[:, 0], points[:, 1]
    return int(np.sum((x < 0) | (x > cols) | (y < 0) | (y > rows)))


def self_intersects(points: np.ndarray) -> bool:
    """True when two non-adjacent edges cross (strictly: touching at a point does not count)."""
    n = len(points)
    if n < 4:
        return False
    i, j = np.triu_indices(n, k=2)
    keep = ~((i == 0) & (j == n - 1))  # the last edge is adjacent to the first
    i, j = i[keep], j[keep]
    return bool(np.any(_cross(points[i], points[(i + 1) % n], points[j], points[(j + 1) % n])))


def untangle_quad(points: np.ndarray) -> np.ndarray | None:
    """The simple quadrilateral through the four vertices of a bow-tie, or None when it is not
    unambiguous.

    The two crossing edges of a bow-tie are the diagonals of the one simple (convex) order of its
    vertices, so swapping the two vertices that follow the annotator's first edge of a crossing
    pair gives it: A B C D with B-C crossing D-A becomes A B D C, with A-B crossing C-D A C B D.
    It is kept unless a vertex lies within UNTANGLE_MARGIN_PX of the chord of its neighbours.
    """
    order = [0, 1, 3, 2] if _cross(points[1], points[2], points[3], points[0]) else [0, 2, 1, 3]
    ordered = points[order]
    before, after = np.roll(ordered, 1, axis=0), np.roll(ordered, -1, axis=0)
    distance = np.abs(_side(before, after, ordered)) / np.linalg.norm(after - before, axis=1)
    return ordered if distance.min() > UNTANGLE_MARGIN_PX else None


def _cross(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Whether segment a-b properly crosses segment c-d (rows of points)."""
    return (_side(a, b, c) * _side(a, b, d) < 0) & (_side(c, d, a) * _side(c, d, b) < 0)


def _side(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Twice the signed area of triangle abc: > 0 when c is left of a -> b (rows of points)."""
    return (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])
