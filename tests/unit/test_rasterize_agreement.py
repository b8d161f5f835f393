"""The pixel rule of neovert.rasterize pinned against scikit-image and OpenCV, and measured beside
pycocotools, on hundreds of random polygons (seed 102, 64 x 48 px image).

The rule: pixel (r, c) is inside when its centre (c + 0.5, r + 0.5) is, even-odd, edges half-open.
Measured with these tests' polygons (scikit-image 0.26.0, opencv-python-headless 5.0.0.93,
pycocotools 2.0.11):

| reference and mapping                             | polygons                           | differ | pixels differing |
|---------------------------------------------------|------------------------------------|--------|------------------|
| skimage.draw.polygon(y - 0.5, x - 0.5, shape)     | 500 simple, float vertices         | 0      | 0 of 136,518     |
| same                                              | 500 self-crossing, cut by border   | 0      | 0 of 371,971     |
| same                                              | 500 simple, integer vertices       | 358    | 1,247 (+), 0 (-) |
| cv2.pointPolygonTest(float32 contour, centre) > 0 | 200 simple + 200 self-crossing     | 0      | 0                |
| cv2.fillPoly((x - 0.5) * 256, shift=8)            | 187 simple, inside the image       | 187    | 5,011 (+), 12 (-) |
| pycocotools frPyObjects, vertices as given        | 500 simple, float vertices         | 453    | 751 (+), 823 (-) |
| pycocotools, vertices shifted by -0.5 / +0.5      | same                               | 496    | 13,209 / 14,098  |

(+) pixels the reference adds to ours, (-) pixels it leaves out. The integer-vertex polygons cover
123,691 pixels, the 187 polygons inside the image 28,975.

skimage's `polygon` samples integer coordinates, so shifting the vertices by -0.5 makes it sample
pixel centres; it then agrees exactly, except for centres lying exactly on an edge (random float
vertices never make one, integer clicks often do): skimage keeps those on every side, we keep them
on the top and left sides only, so that neighbouring polygons never share a pixel.
OpenCV's fillPoly is not a centre rule: it draws the outline into the fill (27 extra pixels per
polygon here, all within 1 px of the outline; up to 4 px off where it clips an edge at the border).
pycocotools reads COCO polygons in our corner convention (a half-pixel shift makes it ten times
worse) but decides boundary pixels by its own upsampled edge tracing: about 3 pixels per polygon
(1.2% of the area) differ, extra and missed alike, all within 1 px of the outline.
"""

import cv2
import numpy as np
import pytest
import shapely
import skimage.draw
from pycocotools import mask as coco_mask

from neovert.rasterize import polygon_mask
from neovert.rasterize.polygons import self_intersects

# pycocotools 2.0.11 still calls np.array(..., copy=False) on NumPy 2
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

ROWS, COLS = SHAPE = (48, 64)
GRID_ROWS, GRID_COLS = np.mgrid[:ROWS, :COLS]
CENTRES = np.column_stack([GRID_COLS.ravel() + 0.5, GRID_ROWS.ravel() + 0.5])


def star_polygons(rng, count, integer=False):
    """Simple polygons of 3-20 vertices (sorted angles around a centre), some cut by the border."""
    polygons = []
    for _ in range(count):
        n = int(rng.integers(3, 21))
        centre, radius = rng.uniform([0, 0], [COLS, ROWS]), rng.uniform(3, 30)
        angles, reach = np.sort(rng.uniform(0, 2 * np.pi, n)), radius * rng.uniform(0.3, 1.0, n)
        points = centre + np.column_stack([reach * np.cos(angles), reach * np.sin(angles)])
        polygons.append(np.round(points) if integer else points)
    return polygons


def wild_polygons(rng, count):
    """Uniformly random vertices: mostly self-intersecting, often reaching outside the image."""
    return [rng.uniform([-8, -8], [COLS + 8, ROWS + 8], (int(rng.integers(3, 13)), 2)) for _ in range(count)]


@pytest.fixture(scope="module")
def polygons():
    rng = np.random.default_rng(102)
    return {"star": star_polygons(rng, 500), "wild": wild_polygons(rng, 500),
            "integer": star_polygons(rng, 500, integer=True)}


def skimage_mask(points):
    mask = np.zeros(SHAPE, dtype=bool)
    rows, cols = skimage.draw.polygon(points[:, 1] - 0.5, points[:, 0] - 0.5, SHAPE)
    mask[rows, cols] = True
    return mask


def near_boundary(points, pixels, limit):
    """Whether every pixel (r, c) of `pixels` has its centre within `limit` px of the outline."""
    rows, cols = np.nonzero(pixels)
    distance = shapely.distance(shapely.LinearRing(points), shapely.points(cols + 0.5, rows + 0.5))
    return bool(np.all(distance <= limit))


@pytest.mark.parametrize("kind", ["star", "wild"])
def test_float_vertices_match_skimage_polygon_shifted_by_half_a_pixel_exactly(polygons, kind):
    differing = [int((skimage_mask(p) != polygon_mask(p, SHAPE)).sum()) for p in polygons[kind]]
    assert sum(differing) == 0
    assert sum(polygon_mask(p, SHAPE).sum() for p in polygons[kind]) > 100_000  # not a vacuous match


def test_integer_vertices_differ_from_skimage_only_by_centres_exactly_on_an_edge(polygons):
    extra_total = 0
    for points in polygons["integer"]:
        ours, theirs = polygon_mask(points, SHAPE), skimage_mask(points)
        assert not (ours & ~theirs).any()  # skimage never misses a pixel we claim
        extra = theirs & ~ours
        assert near_boundary(points, extra, limit=1e-9)  # every extra centre lies on an edge
        extra_total += int(extra.sum())
    assert 1000 < extra_total < 1500  # 1,247 measured: ties are common with integer clicks


def test_matches_opencv_point_in_polygon_at_pixel_centres(polygons):
    """pointPolygonTest takes a float32 contour: both sides get the float32-rounded vertices."""
    for points in polygons["star"][:200] + polygons["wild"][:200]:
        points = points.astype(np.float32)
        inside = [cv2.pointPolygonTest(points.reshape(-1, 1, 2), (float(x), float(y)), False) > 0 for x, y in CENTRES]
        assert np.array_equal(np.reshape(inside, SHAPE), polygon_mask(points.astype(np.float64), SHAPE))


def test_opencv_fillpoly_adds_its_outline_to_the_centre_fill(polygons):
    """Polygons inside the image only: where fillPoly clips an edge at the border, its outline moves
    by up to 4 px."""
    inside = [p for p in polygons["star"] if p.min() >= 0 and p[:, 0].max() <= COLS and p[:, 1].max() <= ROWS]
    extra = missed = 0
    for points in inside:
        ours = polygon_mask(points, SHAPE)
        filled = np.zeros(SHAPE, dtype=np.uint8)
        cv2.fillPoly(filled, [np.round((points - 0.5) * 256).astype(np.int32)], 1, shift=8)
        filled = filled.astype(bool)
        assert near_boundary(points, filled ^ ours, limit=1.0)
        extra, missed = extra + int((filled & ~ours).sum()), missed + int((ours & ~filled).sum())
    assert len(inside) > 150 and extra > 50 * missed and extra / len(inside) > 20  # see the table above


def test_pycocotools_uses_the_corner_convention_but_its_own_boundary_decisions(polygons):
    def coco(points, shift):
        rle = coco_mask.frPyObjects([(points + shift).ravel().tolist()], *SHAPE)
        return coco_mask.decode(rle)[:, :, 0].astype(bool)

    differing = {shift: 0 for shift in (-0.5, 0.0, 0.5)}
    extra = missed = 0
    for points in polygons["star"]:
        ours = polygon_mask(points, SHAPE)
        for shift in differing:
            differing[shift] += int((coco(points, shift) != ours).sum())
        theirs = coco(points, 0.0)
        assert near_boundary(points, theirs ^ ours, limit=1.0)
        extra, missed = extra + int((theirs & ~ours).sum()), missed + int((ours & ~theirs).sum())
    area = sum(int(polygon_mask(p, SHAPE).sum()) for p in polygons["star"])
    assert differing[0.0] < 0.02 * area  # 1,574 of 136,518 measured
    assert min(differing[-0.5], differing[0.5]) > 5 * differing[0.0]
    assert 0.7 < extra / missed < 1.3  # no bias: boundary pixels won and lost alike


def test_self_intersection_test_agrees_with_shapely(polygons):
    found = [self_intersects(p) for p in polygons["wild"] + polygons["star"]]
    expected = [not shapely.LinearRing(p).is_simple for p in polygons["wild"] + polygons["star"]]
    assert found == expected and 100 < sum(found) < 500
