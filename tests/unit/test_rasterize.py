import numpy as np
from matplotlib.path import Path as MplPath

from neovert.rasterize import polygon_mask, rasterize_shapes


def _centres(shape):
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    return np.column_stack([cols.ravel() + 0.5, rows.ravel() + 0.5])


def test_pixel_centre_rule_matches_matplotlib_on_random_polygons():
    """Random float vertices never sit exactly on a pixel centre, so the even-odd rule on
    centres (c + 0.5, r + 0.5) must agree with matplotlib's point-in-polygon pixel for pixel."""
    rng = np.random.default_rng(7)
    shape = (40, 50)
    centres = _centres(shape)
    for n in [3, 4, 4, 4, 5, 8, 12] * 30:
        points = rng.uniform([-5, -5], [55, 45], size=(n, 2))
        expected = MplPath(points).contains_points(centres).reshape(shape)
        assert np.array_equal(polygon_mask(points, shape), expected)


def test_axis_aligned_rectangle_covers_exactly_its_pixels():
    # corners on pixel corners: columns 2..5 and rows 1..2 inclusive
    mask = polygon_mask(np.array([[2, 1], [6, 1], [6, 3], [2, 3]], float), (6, 8))
    assert mask.sum() == 8 and mask[1:3, 2:6].all()


def test_shared_edge_is_claimed_once_and_vertebra_wins_over_lung():
    shapes = [
        {"label": "lung", "points": [[0, 0], [10, 0], [10, 10], [0, 10]]},
        {"label": "T7", "points": [[4, 4], [8, 4], [8, 8], [4, 8]]},
        {"label": "T12", "points": [[8, 4], [12, 4], [12, 8], [8, 8]]},
        {"label": "shoulder", "points": [[0, 0], [1, 0], [1, 1]]},
        {"label": "T1", "points": [[0, 0], [1, 1]]},
    ]
    labels, qc = rasterize_shapes(shapes, (12, 12))
    assert (labels == 3).sum() == 16 and (labels == 4).sum() == 16
    assert (labels == 1).sum() == 100 - 16 - 8
    assert qc["lung_vertebra_overlap_px"] == 16 + 8
    assert qc["unknown_labels"] == 1 and qc["too_few_points"] == 1 and qc["missing_vertebrae"] == ""
