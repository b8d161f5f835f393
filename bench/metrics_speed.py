"""Speed of neovert.metrics beside surface-distance and MONAI, on one core, in one run.

Data (own generator, deterministic from the seed; shared/reference/metrics.md section 5): 1024 x 1024
label maps at 0.15 mm with lung (two lobes of ~370 x 200 px in one label) and the T1, T7 and T12
vertebral bodies (rotated, jittered quadrilaterals of ~34-46 x 25-35 px). Predictions are perturbed
copies; each vertebra is good, medium or poor, or has a second blob one vertebra away ("fp_island")
or boundary noise with holes and spurs ("ragged"), in the reference mix.

Views, every implementation on every item, the items taking the possible call orders in turn, so
that all share the same machine load: ratios from one run are comparable, absolute ms depend on that
load (the ratios still move by +-15% between runs on a busy 2-core machine):

- vertebra pair / lung pair: two full-size boolean masks in, HD95 + MSD out;
- image: a 4-class label map pair, masks extracted per class inside the timer (neovert.score_image
  vs surface-distance / MONAI called per class);
- test set: neovert over `--images` images (default 1,400) held in memory, one loop, measured;
  the references extrapolated from their mean per image on the `--sample` images.

Agreement is taken from the same calls: max |HD95| and |MSD| difference of neovert against
surface-distance (MSD pooled from its distances and surfel lengths) and against MONAI.

Writes benchmarks/metrics_speed.json and .tsv and prints a Markdown table.
Usage: python bench/metrics_speed.py [--images 1400] [--sample 100] [--quick]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import gc  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from importlib.metadata import version  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

# PyPI surface-distance 0.1 still uses np.Inf / np.NaN, removed in NumPy 2 (fixed upstream only).
for _old, _new in (("Inf", np.inf), ("NaN", np.nan)):
    if _old not in np.__dict__:
        setattr(np, _old, _new)
warnings.filterwarnings("ignore", category=DeprecationWarning)  # scipy.ndimage.filters in surface-distance
warnings.filterwarnings("ignore", category=FutureWarning, module="monai")  # its own get_mask_edges argument

import surface_distance as sd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests' helpers are not an installed package
from tests.unit.test_metrics import polygon_mask  # noqa: E402
from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance  # noqa: E402

from neovert.metrics import CLASSES, score_image, score_masks  # noqa: E402

SHAPE = (1024, 1024)
SPACING = (0.15, 0.15)
VERTEBRAE = {"T1": (250.0, 512.0), "T7": (470.0, 512.0), "T12": (690.0, 512.0)}  # nominal centres (row, col)
KINDS = {"good": 2529, "medium": 1046, "poor": 349, "fp_island": 148, "ragged": 128}  # reference mix
# prediction perturbation per kind: scale range, shift SD (px), vertex jitter SD (px)
PERTURB = {"good": (0.06, 1.2, 0.8), "medium": (0.15, 3.0, 1.5), "poor": (0.3, 7.0, 3.0),
           "fp_island": (0.06, 1.2, 0.8), "ragged": (0.15, 3.0, 1.5)}
IMPLS = ("neovert", "surface_distance", "monai")


# ---------------------------------------------------------------- data

def quad(rng: np.random.Generator, centre: np.ndarray, size: np.ndarray, jitter: float) -> np.ndarray:
    h, w = size
    corners = np.array([[-h, -w], [-h, w], [h, w], [h, -w]]) / 2 + rng.normal(0, jitter, (4, 2))
    a = rng.uniform(-0.35, 0.35)
    return corners @ np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]]) + centre


def lobe(rng: np.random.Generator, centre: np.ndarray, radii: np.ndarray) -> np.ndarray:
    theta = np.linspace(0, 2 * np.pi, 28, endpoint=False)
    r = 1 + rng.normal(0, 0.03, theta.size)
    return np.stack([centre[0] + radii[0] * r * np.sin(theta), centre[1] + radii[1] * r * np.cos(theta)], axis=1)


def ragged(rng: np.random.Generator, mask: np.ndarray, centre: np.ndarray) -> None:
    """Holes (3% of the pixels of the blob's box) and 4-8 spurs of 3-8 px sticking out, in place."""
    r0, c0 = (centre - 30).astype(int)
    box = mask[r0 : r0 + 60, c0 : c0 + 60]
    box &= ~(rng.random(box.shape) < 0.03)
    for angle in rng.uniform(0, 2 * np.pi, rng.integers(4, 9)):
        step = np.array([math.sin(angle), math.cos(angle)])
        t = 0.0
        while mask[tuple(np.round(centre + t * step).astype(int))] and t < 40:
            t += 0.5
        length = rng.uniform(3, 8)
        for s in np.arange(t, t + length, 0.5):
            mask[tuple(np.round(centre + s * step).astype(int))] = True


def vertebra(rng: np.random.Generator, nominal: tuple[float, float], kind: str) -> tuple:
    """Vertices of truth and prediction, of the prediction's extra island (or None), and the centre."""
    centre = np.array(nominal) + rng.normal(0, 12, 2)
    size = np.array([rng.uniform(25, 35), rng.uniform(34, 46)])  # rows x cols
    truth = quad(rng, centre, size, jitter=1.5)
    scale, shift, jitter = PERTURB[kind]
    pred = (truth - centre) * rng.uniform(1 - scale, 1 + scale) + centre + rng.normal(0, shift, 2)
    pred = pred + rng.normal(0, jitter, (4, 2))
    island = None
    if kind == "fp_island":
        offset = np.array([rng.choice([-1, 1]) * rng.uniform(35, 45), rng.normal(0, 3)])
        island = quad(rng, centre + offset, size * rng.uniform(0.6, 0.9), jitter=1.0)
    return truth, pred, island, centre


def make_image(seed: int, index: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(pred, truth) uint8 label maps of one image and the kinds of its three vertebrae."""
    rng = np.random.default_rng([seed, index])
    truth, pred = np.zeros(SHAPE, np.uint8), np.zeros(SHAPE, np.uint8)
    lung_t, lung_p = np.zeros(SHAPE, bool), np.zeros(SHAPE, bool)
    for col in (320.0, 704.0):
        centre = np.array([480.0, col]) + rng.normal(0, 8, 2)
        radii = np.array([185.0, 100.0]) * rng.normal(1, 0.03, 2)
        lung_t |= polygon_mask(SHAPE, lobe(rng, centre, radii))
        lung_p |= polygon_mask(SHAPE, lobe(rng, centre + rng.normal(0, 4, 2), radii * rng.uniform(0.96, 1.04, 2)))
    truth[lung_t], pred[lung_p] = CLASSES["lung"], CLASSES["lung"]
    names, weights = list(KINDS), np.array(list(KINDS.values()), float)
    kinds = list(rng.choice(names, size=3, p=weights / weights.sum()))
    for (name, nominal), kind in zip(VERTEBRAE.items(), kinds):
        t_vert, p_vert, island, centre = vertebra(rng, nominal, kind)
        t_mask, p_mask = polygon_mask(SHAPE, t_vert), polygon_mask(SHAPE, p_vert)
        if island is not None:
            p_mask |= polygon_mask(SHAPE, island)
        if kind == "ragged":
            ragged(rng, p_mask, centre)
        truth[t_mask], pred[p_mask] = CLASSES[name], CLASSES[name]
    return pred, truth, kinds


# ---------------------------------------------------------------- implementations (HD95 + MSD per pair)

def run_neovert(pred: np.ndarray, truth: np.ndarray) -> dict:
    row = score_masks(pred, truth, SPACING)
    return {"hd95": row["hd95_mm"], "msd": row["msd_mm"]}


def run_surface_distance(pred: np.ndarray, truth: np.ndarray) -> dict:
    d = sd.compute_surface_distances(truth, pred, SPACING)
    hd95 = sd.compute_robust_hausdorff(d, 95)
    sd.compute_average_surface_distance(d)  # the library's own MSD (two directed means)
    return {"hd95": hd95, "d": d}


def run_monai(pred: np.ndarray, truth: np.ndarray) -> dict:
    y_pred, y = torch.from_numpy(pred)[None, None], torch.from_numpy(truth)[None, None]
    hd95 = compute_hausdorff_distance(y_pred, y, include_background=True, percentile=95, spacing=SPACING)
    msd = compute_average_surface_distance(y_pred, y, include_background=True, symmetric=True, spacing=SPACING)
    return {"hd95": float(hd95), "msd": float(msd)}


PAIR_FUNCS = {"neovert": run_neovert, "surface_distance": run_surface_distance, "monai": run_monai}


def image_neovert(pred: np.ndarray, truth: np.ndarray) -> None:
    score_image(pred, truth, SPACING)


def image_per_class(func):
    def run(pred: np.ndarray, truth: np.ndarray) -> None:
        for label in CLASSES.values():
            func(pred == label, truth == label)
    return run


IMAGE_FUNCS = {"neovert": image_neovert, "surface_distance": image_per_class(run_surface_distance),
               "monai": image_per_class(run_monai)}


def pooled_msd(d: dict) -> float:
    """Symmetric length-weighted MSD from surface-distance's distances and surfel lengths."""
    num = (d["distances_gt_to_pred"] * d["surfel_areas_gt"]).sum() + (
        d["distances_pred_to_gt"] * d["surfel_areas_pred"]).sum()
    return float(num / (d["surfel_areas_gt"].sum() + d["surfel_areas_pred"].sum()))


# ---------------------------------------------------------------- timing

def interleaved(items: list, funcs: dict) -> tuple[dict[str, list[float]], dict[str, list]]:
    """Every function on every item, the items taking all call orders in turn; ms and results per function.

    All orders, not rotations of one: a call right after another on the same item finds the masks
    in cache, and rotating (neovert, surface-distance, MONAI) gave that to surface-distance on 2 of
    3 items and never to neovert, which always ran after MONAI, whose ~30 ms evict everything.
    With all orders every function runs first, and right after each other one, equally often.
    The garbage collector runs between items, untimed, so that no call pays for another's garbage.
    """
    names = list(funcs)
    orders = list(itertools.permutations(names))
    ms, results = {n: [] for n in names}, {n: [] for n in names}
    gc.disable()
    try:
        for i, args in enumerate(items):
            for name in orders[i % len(orders)]:
                start = time.perf_counter()
                out = funcs[name](*args)
                ms[name].append((time.perf_counter() - start) * 1e3)
                results[name].append(out)
            if i % 20 == 19:
                gc.collect()
    finally:
        gc.enable()
    return ms, results


def summary(ms: dict[str, list[float]]) -> dict:
    view = {"n": len(ms["neovert"])}
    for name, values in ms.items():
        view[name] = {"mean_ms": statistics.fmean(values), "median_ms": statistics.median(values),
                      "total_s": sum(values) / 1e3}
    for ref in IMPLS[1:]:
        view[f"ratio_{ref}_to_neovert"] = {
            "mean": view[ref]["mean_ms"] / view["neovert"]["mean_ms"],
            "median": view[ref]["median_ms"] / view["neovert"]["median_ms"]}
    return view


def agreement(results: dict[str, list], kinds: list[str]) -> dict:
    """Max / mean |difference| of neovert's HD95 and MSD from each reference, over the same calls."""
    ours = results["neovert"]
    sd_hd = [r["hd95"] for r in results["surface_distance"]]
    sd_msd = [pooled_msd(r["d"]) for r in results["surface_distance"]]
    mo_hd = [r["hd95"] for r in results["monai"]]
    mo_msd = [r["msd"] for r in results["monai"]]

    def diff(refs: list[float], key: str) -> np.ndarray:
        return np.abs(np.array([o[key] for o in ours]) - np.array(refs))

    out = {}
    for name, hd, msd in (("surface_distance", sd_hd, sd_msd), ("monai", mo_hd, mo_msd)):
        d_hd, d_msd = diff(hd, "hd95"), diff(msd, "msd")
        out[name] = {"pairs": int(d_hd.size), "max_abs_hd95_mm": float(d_hd.max()),
                     "mean_abs_hd95_mm": float(d_hd.mean()), "max_abs_msd_mm": float(d_msd.max()),
                     "mean_abs_msd_mm": float(d_msd.mean()), "hd95_equal_share": float(np.mean(d_hd == 0)),
                     "hd95_within_one_pixel_share": float(np.mean(d_hd <= min(SPACING) + 1e-6)),
                     "kind_of_max_hd95_diff": kinds[int(d_hd.argmax())]}
    return out


def whole_set(seed: int, images: int, chunk: int = 100) -> tuple[float, float, list[float], dict[str, int]]:
    """neovert.score_image over `images` images, generated `chunk` at a time into memory and scored in
    one timed loop per chunk; wall and CPU seconds, vertebra DSCs, vertebra kinds."""
    seconds, cpu, dscs, kinds = 0.0, 0.0, [], dict.fromkeys(KINDS, 0)
    for first in range(0, images, chunk):
        batch = [make_image(seed, i) for i in range(first, min(first + chunk, images))]
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        rows = [score_image(pred, truth, SPACING) for pred, truth, _ in batch]
        seconds += time.perf_counter() - start
        cpu += time.process_time() - start_cpu
        dscs += [row["dsc"] for image in rows for row in image if row["class"] != "lung"]
        for _, _, image_kinds in batch:
            for kind in image_kinds:
                kinds[kind] += 1
        del batch
    return seconds, cpu, dscs, kinds


# ---------------------------------------------------------------- output

TSV_COLUMNS = ["view", "implementation", "n", "mean_ms", "median_ms", "total_s", "basis",
               "ratio_to_neovert_mean", "ratio_to_neovert_median", "max_abs_hd95_mm", "max_abs_msd_mm"]


def tsv_rows(report: dict) -> list[dict]:
    rows = []
    for view in ("vertebra_pair", "lung_pair", "image"):
        v = report["views"][view]
        agree = report["agreement"].get(view, {})
        for name in IMPLS:
            ratio = v.get(f"ratio_{name}_to_neovert", {})
            rows.append({"view": view, "implementation": name, "n": v["n"], **v[name], "basis": "measured",
                         "ratio_to_neovert_mean": ratio.get("mean", ""),
                         "ratio_to_neovert_median": ratio.get("median", ""),
                         "max_abs_hd95_mm": agree.get(name, {}).get("max_abs_hd95_mm", ""),
                         "max_abs_msd_mm": agree.get(name, {}).get("max_abs_msd_mm", "")})
    t = report["views"]["test_set"]
    for name in IMPLS:
        rows.append({"view": "test_set", "implementation": name, "n": t["images"], "mean_ms": t[name]["ms_per_image"],
                     "median_ms": "", "total_s": t[name]["total_s"], "basis": t[name]["basis"],
                     "ratio_to_neovert_mean": t[name]["total_s"] / t["neovert"]["total_s"] if name != "neovert" else "",
                     "ratio_to_neovert_median": "", "max_abs_hd95_mm": "", "max_abs_msd_mm": ""})
    return rows


def markdown(report: dict) -> str:
    v, cells = report["views"], lambda values: "| " + " | ".join(values) + " |"
    lines = [cells(["view", "neovert", "surface-distance", "MONAI", "SD / neovert", "MONAI / neovert"]),
             cells(["---"] * 6)]
    for view, label in (("vertebra_pair", "ms / vertebra pair"), ("lung_pair", "ms / lung pair"),
                        ("image", "ms / image (4 classes)")):
        x = v[view]
        times = [f"{x[n]['mean_ms']:.2f}; {x[n]['median_ms']:.2f}" for n in IMPLS]
        ratios = [f"{x[f'ratio_{r}_to_neovert']['mean']:.2f}x; {x[f'ratio_{r}_to_neovert']['median']:.2f}x"
                  for r in IMPLS[1:]]
        lines.append(cells([f"{label} (n={x['n']}; mean; median)", *times, *ratios]))
    t = v["test_set"]
    lines.append(cells([f"test set, {t['images']} images (s)", f"{t['neovert']['total_s']:.1f} (measured; CPU {t['neovert']['cpu_s']:.1f})",
                        *(f"{t[r]['total_s']:.1f} (extrapolated)" for r in IMPLS[1:]),
                        *(f"{t[r]['total_s'] / t['neovert']['total_s']:.2f}x" for r in IMPLS[1:])]))
    lines += ["", cells(["agreement, max abs (mm)", "HD95 vs SD", "MSD vs SD", "HD95 vs MONAI", "MSD vs MONAI"]),
              cells(["---"] * 5)]
    for view, a in report["agreement"].items():
        lines.append(cells([f"{view} ({a['monai']['pairs']} pairs)",
                            *(f"{a[r][k]:.3g}" for r in IMPLS[1:] for k in ("max_abs_hd95_mm", "max_abs_msd_mm"))]))
    lines += ["", cells(["goal", "measured", "met"]), cells(["---"] * 3)]
    lines += [cells([g["goal"], f"{g['measured']:.2f}", "yes" if g["met"] else "NO"]) for g in report["goals"].values()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1400, help="test-set size for the neovert total")
    parser.add_argument("--sample", type=int, default=100, help="images the references run on (interleaved)")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 images, sample of 4")
    parser.add_argument("--out", type=Path, default=None, help="JSON path; the TSV goes beside it")
    args = parser.parse_args()
    if args.quick:
        args.images, args.sample = 20, 4
    args.out = args.out or Path(f"benchmarks/metrics_speed{'_quick' if args.quick else ''}.json")
    sample = [make_image(args.seed, i) for i in range(args.sample)]

    def masks(label: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(pred == label, truth == label) for pred, truth, _ in sample]

    vertebra_pairs = [p for name in VERTEBRAE for p in masks(CLASSES[name])]
    lung_pairs = masks(CLASSES["lung"])
    pair_kinds = {"vertebra_pair": [kinds[v] for v in range(len(VERTEBRAE)) for _, _, kinds in sample],
                  "lung_pair": ["lung"] * len(lung_pairs)}
    images = [(pred, truth) for pred, truth, _ in sample]
    interleaved(vertebra_pairs[:3] + lung_pairs[:3], PAIR_FUNCS)  # warm-up: imports, caches, torch
    interleaved(images[:3], IMAGE_FUNCS)

    views, agree = {}, {}
    for view, items, funcs in (("vertebra_pair", vertebra_pairs, PAIR_FUNCS), ("lung_pair", lung_pairs, PAIR_FUNCS),
                               ("image", images, IMAGE_FUNCS)):
        gc.collect()
        ms, results = interleaved(items, funcs)
        views[view] = summary(ms)
        if funcs is PAIR_FUNCS:
            agree[view] = agreement(results, pair_kinds[view])

    seconds, cpu, dscs, kinds = whole_set(args.seed, args.images)
    test_set = {"images": args.images, "classes": len(CLASSES),
                "neovert": {"total_s": seconds, "cpu_s": cpu, "ms_per_image": seconds / args.images * 1e3,
                            "basis": "measured: in-memory label maps, one loop, one core"}}
    for ref in IMPLS[1:]:
        per_image = views["image"][ref]["mean_ms"]
        test_set[ref] = {"total_s": per_image * args.images / 1e3, "ms_per_image": per_image,
                         "basis": f"extrapolated from {args.sample} images"}
    views["test_set"] = test_set

    goals = {
        "vertebra_pair": {"goal": "neovert >= 2x faster than surface-distance per vertebra pair (mean)",
                          "measured": views["vertebra_pair"]["ratio_surface_distance_to_neovert"]["mean"]},
        "image": {"goal": "neovert >= 4x faster than surface-distance per image (mean)",
                  "measured": views["image"]["ratio_surface_distance_to_neovert"]["mean"]},
        "test_set": {"goal": "neovert, 1,400 images x 4 classes <= 15 s on one core (wall)"
                     + ("" if args.images == 1400 else f", scaled from {args.images} images"),
                     "measured": seconds * 1400 / args.images, "cpu_s": cpu * 1400 / args.images},
    }
    goals["vertebra_pair"]["met"] = goals["vertebra_pair"]["measured"] >= 2
    goals["image"]["met"] = goals["image"]["measured"] >= 4
    goals["test_set"]["met"] = goals["test_set"]["measured"] <= 15

    report = {
        "config": {"images": args.images, "sample_images": args.sample, "seed": args.seed, "quick": args.quick,
                   "shape": list(SHAPE), "spacing_mm": list(SPACING), "threads": 1,
                   "order": "interleaved, all call orders in turn"},
        "versions": {"python": platform.python_version(), "neovert": version("neovert"), "numpy": np.__version__,
                     "scipy": version("scipy"), "surface-distance": version("surface-distance"),
                     "monai": version("monai"), "torch": torch.__version__},
        "data": {"vertebra_kinds": kinds, "vertebra_dsc_mean": statistics.fmean(dscs),
                 "vertebra_dsc_sd": statistics.stdev(dscs) if len(dscs) > 1 else math.nan},
        "views": views,
        "agreement": agree,
        "goals": goals,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    with args.out.with_suffix(".tsv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, TSV_COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        for row in tsv_rows(report):
            writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})
    print(markdown(report))


if __name__ == "__main__":
    main()
