"""Per-image, per-class segmentation metrics: DSC, IoU, HD95 and MSD in mm.

The definitions are fixed here once so that every table of the project means the same thing
(see shared/reference/metrics.md for why these and not another library's):

- A = predicted pixels of a class, B = ground-truth pixels of that class.
- DSC = 2|A∩B| / (|A| + |B|), IoU = |A∩B| / |A∪B|. Both are computed as one division of two
  integers, so a DSC that is exactly a cutoff (0.5, 0.7, ...) compares equal to the cutoff.
- Surface distances follow DeepMind's ``surface-distance`` (Nikolov et al.): the contour of a
  mask is the set of pixel *corners* whose 2x2 neighbourhood is neither empty nor full (marching
  squares); each corner carries the length of its contour piece in mm (row spacing for a
  vertical piece, column spacing for a horizontal one, half the pixel diagonal for a corner cut,
  twice that for a saddle). Distances are Euclidean in mm from each contour corner of one mask
  to the nearest contour corner of the other.
- HD95 = max over the two directions of the length-weighted 95th percentile: the distances of a
  direction sorted (ties by length), the first one whose cumulative length share reaches 0.95
  (``searchsorted``, no interpolation). Taking the max of the directed percentiles, not the
  percentile of the pooled distances (medpy, seg-metrics), avoids a low bias.
- MSD = symmetric, length-weighted mean over both directions pooled:
  (Σ d·w over A→B and B→A) / (Σ w over both). The directed means A→B and B→A are kept too.

Empty masks get a status instead of a silent number:

=========== ========= ========= ================= ===================================
status      DSC, IoU  HD95, MSD MSD pred→truth    MSD truth→pred
=========== ========= ========= ================= ===================================
ok          value     value     value             value
missed      0         +inf      NaN (no contour)  +inf
spurious    0         +inf      +inf              NaN (no contour)
both_empty  NaN       NaN       NaN               NaN
=========== ========= ========= ================= ===================================

+inf is never 0 or NaN, so a miss can neither look perfect nor drop out of a count; the tables
count infinities instead of averaging them. The directed NaNs mirror ``surface-distance``: a
mean over no contour is undefined.

Speed: a vertebra covers ~0.2% of a 1024 x 1024 mask, so reading the two masks is a large part
of the cost; ``bounding_box`` reads each about once, mostly with flat ``argmax`` scans that run at
memory speed. Everything else runs on the union bounding box of the two masks plus one pixel of
padding, the only region where contour corners can lie. A vertebra has a few hundred corners per
mask, so what remains is a few dozen numpy calls on small arrays, where call overhead outweighs
the work: the code calls array methods and ufuncs directly where numpy's Python-level wrappers
(``flatnonzero``, ``stack``, ``cumsum``, ``searchsorted``) would take 1.5-3x as long per call
here, 25-60 µs more each when the caches are cold (as after another library's call). Nearest
corners come from the matrix of all corner-pair distances while there are few corners, else from
a k-d tree (a lung: thousands), on integer corner offsets: with square pixels the matrix is the
exact integer dr² + dc². Results equal ``surface-distance`` to a few ulp (bit for bit on most pairs).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.spatial import cKDTree

CLASSES: dict[str, int] = {"lung": 1, "T1": 2, "T7": 3, "T12": 4}

HD_PERCENT = 95.0
CI_Z = 1.96

# Corner pairs up to which nearest corners come from the full distance matrix (at most 1 MiB)
# instead of k-d trees: the matrix is 2-3x faster for a vertebra's few hundred corners per mask,
# the trees win above ~350 x 350.
BRUTE_FORCE_PAIRS = 1 << 17
# Rows per block of the backward scan for the last True row in `bounding_box`.
SCAN_ROWS = 64


def score_image(pred: np.ndarray, truth: np.ndarray, spacing: tuple[float, float]) -> list[dict]:
    """Score every class of one image.

    `pred` and `truth` are 2D label maps of equal shape; `spacing` is the pixel size in mm in
    array order (row, col). Returns one dict per class of CLASSES, in that order, with keys
    class, status, dsc, iou, hd95_mm, msd_mm, msd_pred_to_truth_mm, msd_truth_to_pred_mm,
    n_pred_px, n_truth_px.
    """
    if pred.ndim != 2 or pred.shape != truth.shape:
        raise ValueError(f"need two 2D label maps of equal shape, got {pred.shape} and {truth.shape}")
    return [
        {"class": name, **score_masks(pred == label, truth == label, spacing)} for name, label in CLASSES.items()
    ]


def score_masks(pred: np.ndarray, truth: np.ndarray, spacing: tuple[float, float]) -> dict:
    """All metrics for one pair of 2D boolean masks (see the module docstring)."""
    if pred.dtype != bool or truth.dtype != bool or pred.ndim != 2 or pred.shape != truth.shape:
        raise ValueError("need two boolean 2D masks of equal shape")
    if len(spacing) != 2 or not all(math.isfinite(s) and s > 0 for s in spacing):
        raise ValueError(f"spacing must be two positive numbers (row, col) in mm, got {spacing}")
    spacing = (float(spacing[0]), float(spacing[1]))
    pred_box, truth_box = bounding_box(pred), bounding_box(truth)
    if pred_box is None or truth_box is None:
        return _one_or_both_empty(pred, pred_box, truth, truth_box)

    rows = slice(min(pred_box[0].start, truth_box[0].start), max(pred_box[0].stop, truth_box[0].stop))
    cols = slice(min(pred_box[1].start, truth_box[1].start), max(pred_box[1].stop, truth_box[1].stop))
    p, t = pred[rows, cols], truth[rows, cols]
    n_pred, n_truth = int(np.count_nonzero(p)), int(np.count_nonzero(t))
    inter = int(np.count_nonzero(p & t))

    (pred_pts, pred_len), (truth_pts, truth_len) = _contours(p, t, spacing)
    d_pred, d_truth = _nearest_distances(pred_pts, truth_pts, spacing)
    sum_pred, sum_truth = float((d_pred * pred_len).sum()), float((d_truth * truth_len).sum())
    len_pred, len_truth = float(pred_len.sum()), float(truth_len.sum())
    return {
        "status": "ok",
        "dsc": 2 * inter / (n_pred + n_truth),
        "iou": inter / (n_pred + n_truth - inter),
        "hd95_mm": max(
            _weighted_percentile(d_pred, pred_len, HD_PERCENT),
            _weighted_percentile(d_truth, truth_len, HD_PERCENT),
        ),
        "msd_mm": (sum_pred + sum_truth) / (len_pred + len_truth),
        "msd_pred_to_truth_mm": sum_pred / len_pred,
        "msd_truth_to_pred_mm": sum_truth / len_truth,
        "n_pred_px": n_pred,
        "n_truth_px": n_truth,
    }


def confidence_interval(mean: float, sd: float, n: int) -> tuple[float, float]:
    """Normal-approximation 95% CI of a mean: mean ± 1.96·SD/√n.

    This is the method that reproduces the paper's Table 3 at n = 1,400 images (t-quantiles,
    √(n−1) or a bootstrap do not). NaN when n < 2, where the SD is undefined.
    """
    if n < 2 or not math.isfinite(sd):
        return math.nan, math.nan
    half = CI_Z * sd / math.sqrt(n)
    return mean - half, mean + half


def _one_or_both_empty(
    pred: np.ndarray, pred_box: tuple[slice, slice] | None, truth: np.ndarray, truth_box: tuple[slice, slice] | None
) -> dict:
    nan, inf = math.nan, math.inf
    if pred_box is None and truth_box is None:
        status, overlap, distance, from_pred, from_truth = "both_empty", nan, nan, nan, nan
    elif pred_box is None:
        status, overlap, distance, from_pred, from_truth = "missed", 0.0, inf, nan, inf
    else:
        status, overlap, distance, from_pred, from_truth = "spurious", 0.0, inf, inf, nan
    return {
        "status": status,
        "dsc": overlap,
        "iou": overlap,
        "hd95_mm": distance,
        "msd_mm": distance,
        "msd_pred_to_truth_mm": from_pred,
        "msd_truth_to_pred_mm": from_truth,
        "n_pred_px": 0 if pred_box is None else int(np.count_nonzero(pred[pred_box])),
        "n_truth_px": 0 if truth_box is None else int(np.count_nonzero(truth[truth_box])),
    }


def bounding_box(mask: np.ndarray) -> tuple[slice, ...] | None:
    """Slices of the smallest box holding all True pixels, None if there are none.

    Reading the mask is the cost, so the first axis is bounded by flat ``argmax`` scans, which
    stop at the first True and run at memory speed, about twice as fast as a row projection
    (``any(axis=1)``): one forward from the start for the first True, then blocks of SCAN_ROWS
    rows backwards from the end until one holds a True. The other axes are projected inside the
    band found, ~50 of 1,024 rows for a vertebra (scipy's find_objects is ~40x slower here).
    """
    flat = mask.reshape(-1)
    if flat.size == 0:
        return None
    first = int(flat.argmax())
    if not flat[first]:
        return None
    row, other_axes = flat.size // mask.shape[0], tuple(range(1, mask.ndim))
    for stop in range(flat.size, 0, -SCAN_ROWS * row):  # the block holding `first` ends it at the latest
        block = flat[max(stop - SCAN_ROWS * row, 0) : stop]
        if block[block.argmax()]:
            break
    start = (stop - block.size) // row
    last = start + int(mask[start : stop // row].any(axis=other_axes).nonzero()[0][-1])
    box = [slice(first // row, last + 1)]
    for axis in range(1, mask.ndim):
        band = mask[tuple(box)]
        hits = band.any(axis=tuple(a for a in range(mask.ndim) if a != axis)).nonzero()[0]
        box.append(slice(int(hits[0]), int(hits[-1]) + 1))
    return tuple(box)


@functools.cache
def _contour_length_table(spacing: tuple[float, float]) -> np.ndarray:
    """Contour length in mm of the corner with 2x2 neighbourhood code 8·TL + 4·TR + 2·BL + BR.

    Cached per spacing, read-only: building it costs about as much as looking up a vertebra's
    contour.
    """
    vertical, horizontal = spacing
    diag = 0.5 * math.sqrt(spacing[0] ** 2 + spacing[1] ** 2)
    table = np.full(16, diag)
    table[[0b0000, 0b1111]] = 0.0  # outside / inside: no contour
    table[[0b0011, 0b1100]] = horizontal  # top or bottom row set: horizontal edge
    table[[0b0101, 0b1010]] = vertical  # left or right column set: vertical edge
    table[[0b0110, 0b1001]] = 2 * diag  # saddles: two corner cuts
    table.flags.writeable = False
    return table


def _contours(
    pred: np.ndarray, truth: np.ndarray, spacing: tuple[float, float]
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Contour corners and their lengths, per mask; the corners as a (2, n) integer array of (row, col).

    Both masks are stacked so each numpy call does the pair at once. Corner (i, j) is the
    top-left corner of pixel (i, j) of the crop; the zero frame makes the grid (h+1) x (w+1),
    the same grid surface-distance uses. The codes are computed on the flattened stack (1D
    shifts by one pixel and one row are contiguous, and a 1D ``nonzero`` is ~20x faster than a 3D
    one); the codes that wrap across a row or mask edge read only the zero frame, so they are 0
    and drop out.
    """
    h, w = pred.shape
    padded = np.zeros((2, h + 2, w + 2), np.uint8)
    padded[0, 1:-1, 1:-1] = pred
    padded[1, 1:-1, 1:-1] = truth
    flat, row, plane = padded.ravel(), w + 2, (h + 2) * (w + 2)
    pairs = (flat[:-1] << 1) | flat[1:]  # left/right bits of each pixel pair
    code = (pairs[:-row] << 2) | pairs[row:]  # 8·TL + 4·TR + 2·BL + BR of the 2x2 block at each pixel
    index = ((code != 0) & (code != 0b1111)).nonzero()[0]
    weights = _contour_length_table(spacing)[code[index]]
    # int32 (2-3x faster than int64 in the distance matrix) unless dr² + dc² could overflow it
    corners = np.array(np.divmod(index % plane, row), dtype=np.int32 if max(h, w) < 1 << 15 else np.int64)
    split = int(index.searchsorted(plane))
    return (corners[:, :split], weights[:split]), (corners[:, split:], weights[split:])


def _nearest_distances(
    pred: np.ndarray, truth: np.ndarray, spacing: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Distance in mm from each pred corner to the nearest truth corner, and from each truth corner
    to the nearest pred corner; corners as (2, n) integer arrays of (row, col).

    Up to BRUTE_FORCE_PAIRS corner pairs the squared distances of all pairs are one matrix whose
    row and column minima give both directions at once; a k-d tree per direction costs 2-3x as
    much for a vertebra's few hundred corners. Above that the matrix grows quadratically and the
    trees win; they only pick the nearest corner.

    With square pixels the matrix holds the integer dr² + dc², exact and about twice as fast as
    floats, and the distance is sqrt(dr² + dc²)·s. Otherwise it is sqrt((dr·s_r)² + (dc·s_c)²),
    the formula of scipy's EDT, bit for bit. The two agree to a few ulp, and surface-distance's EDT
    itself picks arbitrarily among corners equally near at different offsets.
    """
    if pred.shape[1] * truth.shape[1] > BRUTE_FORCE_PAIRS:
        return _nearest_by_tree(pred, truth, spacing), _nearest_by_tree(truth, pred, spacing)
    rows, cols = np.subtract.outer(pred[0], truth[0]), np.subtract.outer(pred[1], truth[1])
    unit = spacing[0]
    if spacing[0] != spacing[1]:
        rows, cols, unit = rows * spacing[0], cols * spacing[1], 1.0
    rows *= rows
    cols *= cols
    rows += cols
    return np.sqrt(np.minimum.reduce(rows, axis=1)) * unit, np.sqrt(np.minimum.reduce(rows, axis=0)) * unit


def _nearest_by_tree(source: np.ndarray, target: np.ndarray, spacing: tuple[float, float]) -> np.ndarray:
    """Distance in mm from each source corner to the nearest target corner, via a k-d tree."""
    scale = np.asarray(spacing)[:, None]
    # an unbalanced tree without node shrinking builds in about half the time; for a few
    # thousand corners that is most of the cost, and the nearest corner does not depend on it
    _, nearest = cKDTree((target * scale).T, balanced_tree=False, compact_nodes=False).query((source * scale).T)
    offset = (source - target[:, nearest]) * scale
    return np.sqrt(offset[0] ** 2 + offset[1] ** 2)


def _weighted_percentile(distances: np.ndarray, weights: np.ndarray, percent: float) -> float:
    """Smallest distance whose cumulative weight share reaches percent/100 (no interpolation).

    Sorted by (distance, weight) and summed in that order, as surface-distance does, so that
    rounding in the cumulative share, and with it the chosen element, is identical.
    """
    order = np.lexsort((weights, distances))
    w = weights[order]
    share = w.cumsum() / w.sum()
    idx = int(share.searchsorted(percent / 100.0))
    return float(distances[order[min(idx, order.size - 1)]])
