"""neovert.metrics against DeepMind's surface-distance (PyPI 0.1) as the oracle, plus edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neovert.metrics import CLASSES, confidence_interval, score_image, score_masks

# PyPI surface-distance 0.1 still uses np.Inf / np.NaN, removed in NumPy 2 (fixed upstream only).
for _old, _new in (("Inf", np.inf), ("NaN", np.nan)):
    if _old not in np.__dict__:
        setattr(np, _old, _new)
sd = pytest.importorskip("surface_distance")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::RuntimeWarning")

T1 = CLASSES["T1"]
LUNG = CLASSES["lung"]


def polygon_mask(shape: tuple[int, int], vertices: np.ndarray) -> np.ndarray:
    """Pixels whose centre lies inside the polygon (even-odd rule); vertices are (row, col)."""
    mask = np.zeros(shape, bool)
    lo = np.clip(np.floor(vertices.min(axis=0)).astype(int), 0, shape)
    hi = np.clip(np.ceil(vertices.max(axis=0)).astype(int) + 1, 0, shape)
    rr, cc = np.mgrid[lo[0] : hi[0], lo[1] : hi[1]]
    inside = np.zeros(rr.shape, bool)
    for (r0, c0), (r1, c1) in zip(vertices, np.roll(vertices, -1, axis=0)):
        spans = (r0 > rr) != (r1 > rr)
        with np.errstate(divide="ignore", invalid="ignore"):
            c_cross = c0 + (rr - r0) * (c1 - c0) / (r1 - r0)
        inside ^= spans & (cc < c_cross)
    mask[lo[0] : hi[0], lo[1] : hi[1]] = inside
    return mask


def rotated_quad(rng: np.random.Generator, centre: np.ndarray, size: np.ndarray, jitter: float) -> np.ndarray:
    h, w = size
    corners = np.array([[-h, -w], [-h, w], [h, w], [h, -w]]) / 2 + rng.normal(0, jitter, (4, 2))
    a = rng.uniform(-0.6, 0.6)
    return corners @ np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]]) + centre


def lobe(rng: np.random.Generator, centre: np.ndarray, radii: tuple[float, float]) -> np.ndarray:
    theta = np.linspace(0, 2 * np.pi, 28, endpoint=False)
    r = 1 + rng.normal(0, 0.05, theta.size)
    return np.stack([centre[0] + radii[0] * r * np.sin(theta), centre[1] + radii[1] * r * np.cos(theta)], axis=1)


def vertebra_pair(rng: np.random.Generator, kind: int) -> tuple[np.ndarray, np.ndarray]:
    """Truth: rotated quadrilateral of 20-50 px; prediction: scaled, shifted, jittered copy.

    kind cycles through: plain, with a hole, with an extra island, ragged, touching the border.
    """
    shape = (160, 160)
    centre = rng.uniform(50, 110, 2)
    if kind == 4:
        centre = np.array([rng.uniform(8, 20), rng.uniform(50, 110)])
    size = rng.uniform(20, 50, 2)
    quad = rotated_quad(rng, centre, size, jitter=1.5)
    truth = polygon_mask(shape, quad)
    moved = (quad - centre) * rng.uniform(0.75, 1.2) + centre + rng.normal(0, 3, 2) + rng.normal(0, 1.5, (4, 2))
    pred = polygon_mask(shape, moved)
    r, c = centre.astype(int)
    if kind == 1:
        pred[r - 3 : r + 3, c - 2 : c + 3] = False
    elif kind == 2:
        pred |= polygon_mask(shape, rotated_quad(rng, centre + [rng.choice([-45, 45]), 0], size * 0.6, 1.0))
    elif kind == 3:
        pred ^= rng.random(shape) < 0.02 * polygon_mask(shape, moved * 1.0)
        pred[np.clip(r + rng.integers(-30, 30, 6), 0, 159), np.clip(c + rng.integers(-30, 30, 6), 0, 159)] = True
    return pred, truth


def lung_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    shape = (440, 520)
    truth, pred = np.zeros(shape, bool), np.zeros(shape, bool)
    for col in (130, 390):
        centre = np.array([220.0, col]) + rng.normal(0, 6, 2)
        truth |= polygon_mask(shape, lobe(rng, centre, (185, 100)))
        pred |= polygon_mask(shape, lobe(rng, centre + rng.normal(0, 4, 2), (185, 100)))
    return pred, truth


def oracle(pred: np.ndarray, truth: np.ndarray, spacing: tuple[float, float]) -> dict:
    d = sd.compute_surface_distances(truth, pred, spacing)
    truth_to_pred, pred_to_truth = sd.compute_average_surface_distance(d)
    len_truth, len_pred = d["surfel_areas_gt"].sum(), d["surfel_areas_pred"].sum()
    return {
        "dsc": sd.compute_dice_coefficient(truth, pred),
        "hd95_mm": sd.compute_robust_hausdorff(d, 95),
        "msd_pred_to_truth_mm": pred_to_truth,
        "msd_truth_to_pred_mm": truth_to_pred,
        "msd_mm": (truth_to_pred * len_truth + pred_to_truth * len_pred) / (len_truth + len_pred),
    }


def score_pair(pred: np.ndarray, truth: np.ndarray, spacing: tuple[float, float], label: int = T1) -> dict:
    """Score two masks through the public API, as class `label` of otherwise empty maps."""
    rows = score_image(pred.astype(np.uint8) * label, truth.astype(np.uint8) * label, spacing)
    return next(row for row in rows if CLASSES[row["class"]] == label)


SPACINGS = [(0.15, 0.15), (0.14, 0.15), (0.1, 0.3)]


def test_random_pairs_agree_with_surface_distance():
    rng = np.random.default_rng(20240611)
    cases = [(*vertebra_pair(rng, i % 5), SPACINGS[i % 3], T1) for i in range(300)]
    cases += [(*lung_pair(rng), SPACINGS[i % 3], LUNG) for i in range(12)]
    bit_equal = non_square = 0
    for pred, truth, spacing, label in cases:
        ours, ref = score_pair(pred, truth, spacing, label), oracle(pred, truth, spacing)
        assert ours["status"] == "ok"
        assert ours["dsc"] == pytest.approx(ref["dsc"], abs=1e-15)
        inter = np.count_nonzero(pred & truth)
        assert ours["iou"] == pytest.approx(inter / np.count_nonzero(pred | truth), abs=1e-15)
        for key in ("hd95_mm", "msd_mm", "msd_pred_to_truth_mm", "msd_truth_to_pred_mm"):
            assert ours[key] == pytest.approx(ref[key], abs=1e-9), key
        assert (ours["n_pred_px"], ours["n_truth_px"]) == (pred.sum(), truth.sum())
        if spacing[0] == spacing[1]:  # sqrt(dr² + dc²)·s against the EDT's sqrt((dr·s)² + (dc·s)²)
            assert abs(ours["hd95_mm"] - ref["hd95_mm"]) <= 4 * np.spacing(ref["hd95_mm"])  # each side rounds 1-2 ulp
        else:  # the EDT's formula: exact but where two offsets are equally near
            non_square += 1
            bit_equal += ours["hd95_mm"] == ref["hd95_mm"]
    assert bit_equal >= 0.95 * non_square


def test_spacing_is_row_col():
    truth = np.zeros((40, 40), bool)
    truth[10:20, 10:20] = True
    down, right = np.roll(truth, 2, axis=0), np.roll(truth, 2, axis=1)
    spacing = (0.1, 0.3)
    assert score_pair(down, truth, spacing)["hd95_mm"] == pytest.approx(0.2)
    assert score_pair(right, truth, spacing)["hd95_mm"] == pytest.approx(0.6)
    for pred in (down, right):
        assert score_pair(pred, truth, spacing)["hd95_mm"] == oracle(pred, truth, spacing)["hd95_mm"]


def test_single_pixels_three_apart():
    truth, pred = np.zeros((12, 12), bool), np.zeros((12, 12), bool)
    truth[5, 3], pred[5, 6] = True, True
    row = score_pair(pred, truth, (0.15, 0.15))
    assert row["hd95_mm"] == pytest.approx(0.45)
    assert row["msd_mm"] == pytest.approx(0.375)
    assert row["dsc"] == row["iou"] == 0.0
    assert row["status"] == "ok"


def test_border_touching_matches_oracle():
    truth = np.zeros((30, 30), bool)
    truth[0:12, 0:9] = True
    pred = np.zeros_like(truth)
    pred[0:14, 0:8] = True
    pred[29, 29] = True  # a corner pixel: its contour lies half outside the image
    ours, ref = score_pair(pred, truth, (0.15, 0.15)), oracle(pred, truth, (0.15, 0.15))
    for key in ("hd95_mm", "msd_mm", "msd_pred_to_truth_mm", "msd_truth_to_pred_mm"):
        assert ours[key] == pytest.approx(ref[key], abs=1e-12)


def test_empty_masks():
    empty, blob = np.zeros((20, 20), bool), np.zeros((20, 20), bool)
    blob[5:9, 5:9] = True
    spacing = (0.15, 0.15)

    both = score_pair(empty, empty, spacing)
    assert both["status"] == "both_empty"
    assert all(math.isnan(both[k]) for k in ("dsc", "iou", "hd95_mm", "msd_mm", "msd_pred_to_truth_mm"))
    assert (both["n_pred_px"], both["n_truth_px"]) == (0, 0)

    missed = score_pair(empty, blob, spacing)
    ref = oracle(empty, blob, spacing)
    assert missed["status"] == "missed"
    assert (missed["dsc"], missed["iou"]) == (0.0, 0.0) == (ref["dsc"], 0.0)
    assert missed["hd95_mm"] == missed["msd_mm"] == math.inf == ref["hd95_mm"]
    assert missed["msd_truth_to_pred_mm"] == math.inf == ref["msd_truth_to_pred_mm"]
    assert math.isnan(missed["msd_pred_to_truth_mm"]) and math.isnan(ref["msd_pred_to_truth_mm"])
    assert (missed["n_pred_px"], missed["n_truth_px"]) == (0, 16)

    spurious = score_pair(blob, empty, spacing)
    assert spurious["status"] == "spurious"
    assert (spurious["dsc"], spurious["iou"]) == (0.0, 0.0)
    assert spurious["hd95_mm"] == spurious["msd_mm"] == spurious["msd_pred_to_truth_mm"] == math.inf
    assert math.isnan(spurious["msd_truth_to_pred_mm"])
    assert (spurious["n_pred_px"], spurious["n_truth_px"]) == (16, 0)


def test_score_image_rows_per_class():
    truth = np.zeros((40, 40), np.uint8)
    truth[2:30, 2:12] = CLASSES["lung"]
    truth[20:25, 20:25] = CLASSES["T1"]
    truth[30:35, 20:25] = CLASSES["T7"]
    pred = truth.copy()
    pred[pred == CLASSES["T7"]] = 0
    pred[5:8, 30:33] = CLASSES["T12"]
    rows = score_image(pred, truth, (0.15, 0.15))
    assert [r["class"] for r in rows] == list(CLASSES)
    assert [r["status"] for r in rows] == ["ok", "ok", "missed", "spurious"]
    assert rows[0]["dsc"] == rows[1]["dsc"] == 1.0
    assert rows[0]["hd95_mm"] == rows[0]["msd_mm"] == 0.0


def test_dsc_at_a_cutoff_is_exact():
    truth, pred = np.zeros((10, 10), bool), np.zeros((10, 10), bool)
    truth[0, 0:7] = True
    pred[0, 4:7] = True  # 2*3 / (7+3) = 0.6
    assert score_pair(pred, truth, (0.15, 0.15))["dsc"] == 0.6


@pytest.mark.parametrize(
    ("pred_shape", "spacing"), [((10, 11), (0.1, 0.1)), ((10, 10), (0.1, 0.0)), ((10, 10), (0.1,))]
)
def test_bad_input_is_refused(pred_shape, spacing):
    with pytest.raises(ValueError):
        score_image(np.zeros(pred_shape, np.uint8), np.zeros((10, 10), np.uint8), spacing)


def test_masks_must_be_boolean():
    with pytest.raises(ValueError):
        score_masks(np.ones((4, 4), np.uint8), np.ones((4, 4), np.uint8), (0.1, 0.1))


# The paper's Table 3: (vertebra, metric) -> (mean, SD, CI low, CI high), n = 1,400 test images.
PAPER_TABLE3 = {
    ("T1", "DSC"): (0.8327, 0.1724, 0.8237, 0.8418), ("T1", "IoU"): (0.7384, 0.1731, 0.7293, 0.7475),
    ("T1", "HD95"): (8.4339, 8.2512, 8.0017, 8.8662), ("T1", "MSD"): (1.3720, 5.7211, 1.0723, 1.6717),
    ("T7", "DSC"): (0.8322, 0.2094, 0.8213, 0.8432), ("T7", "IoU"): (0.7481, 0.2002, 0.7376, 0.7586),
    ("T7", "HD95"): (9.4905, 12.7707, 8.8215, 10.1595), ("T7", "MSD"): (2.3449, 9.5402, 1.8452, 2.8447),
    ("T12", "DSC"): (0.7998, 0.2574, 0.7864, 0.8133), ("T12", "IoU"): (0.7174, 0.2401, 0.7049, 0.7300),
    ("T12", "HD95"): (13.2952, 18.0057, 12.3520, 14.2384), ("T12", "MSD"): (4.3954, 13.4379, 3.6915, 5.0993),
}


@pytest.mark.parametrize("cell", sorted(PAPER_TABLE3), ids=lambda cell: "-".join(cell))
def test_confidence_interval_reproduces_paper_table3(cell):
    """All 12 CI cells from the rounded mean and SD: within 0.0001 (the paper rounded its means)."""
    mean, sd, low, high = PAPER_TABLE3[cell]
    ours = confidence_interval(mean, sd, 1400)
    assert ours == pytest.approx((low, high), abs=1.0001e-4)


def test_confidence_interval_needs_two_values():
    assert all(math.isnan(v) for v in confidence_interval(0.5, math.nan, 1))


def test_dsc_and_iou_equal_nnunet_evaluation(tmp_path):
    """Our DSC/IoU against nnU-Net v2's own `compute_metrics` on label-map files (both empty: NaN in both)."""
    import SimpleITK as sitk

    evaluation = pytest.importorskip("nnunetv2.evaluation.evaluate_predictions")
    from nnunetv2.imageio.simpleitk_reader_writer import SimpleITKIO

    rng = np.random.default_rng(11)
    for index in range(60):
        truth = rng.choice(5, size=(40, 48), p=[0.6, 0.25, 0.05, 0.05, 0.05]).astype(np.uint8)
        pred = np.where(rng.random(truth.shape) < 0.2, rng.integers(0, 5, truth.shape), truth).astype(np.uint8)
        if index % 10 == 0:
            truth[truth == T1] = pred[pred == T1] = 0  # both empty
        if index % 10 == 1:
            pred[pred == LUNG] = 0  # missed
        paths = [str(tmp_path / f"{name}{index}.nii.gz") for name in ("truth", "pred")]
        for path, labels in zip(paths, (truth, pred)):
            sitk.WriteImage(sitk.GetImageFromArray(labels), path)
        reference = evaluation.compute_metrics(*paths, SimpleITKIO(), list(CLASSES.values()))["metrics"]
        for row in score_image(pred, truth, (0.15, 0.15)):
            theirs = reference[CLASSES[row["class"]]]
            for ours, key in ((row["dsc"], "Dice"), (row["iou"], "IoU")):
                assert ours == theirs[key] or (math.isnan(ours) and math.isnan(theirs[key])), (index, row["class"])
