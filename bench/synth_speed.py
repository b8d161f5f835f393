"""Speed of the synthetic cohort generator at its full-resolution defaults.

Why: `neovert synth --scale 1.0` (all 14,660 images) has to be practical, and the demo runs the
generator inside `make demo` and the tests. Issue 6 sets the goal at >= 2 images/s per core.

What: `generate_cohort` on a fixed sample, by default the 5 % cohort (each hospital's Table 1
count x 0.05, rounded: 732 images), seed 102, default image size (profile spacing, at most
1,400 px a side), one worker process unless `--workers` says otherwise, written to a temporary
folder and then deleted. Per-core rate = images / s / workers. The full cohort's time is
extrapolated linearly by image count: for the workers used, and for every core of this machine
(assuming the process pool scales linearly, which the DICOM files' independence allows; the
machine's load average is recorded because other jobs on shared cores slow a run down).

Writes benchmarks/synth_speed.json and prints it.

    .venv/bin/python bench/synth_speed.py [--scale 0.05] [--workers 1]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pydicom  # noqa: E402

from neovert.synth import generate_cohort  # noqa: E402
from neovert.synth.cohort import TABLE1  # noqa: E402
from neovert.synth.generate import GENERATOR_VERSION  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FULL_COHORT = sum(row.images for row in TABLE1)
GOAL_PER_CORE = 2.0


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--scale", type=float, default=0.05)
    options.add_argument("--seed", type=int, default=102)
    options.add_argument("--workers", type=int, default=1)
    args = options.parse_args()

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        generate_cohort(Path(scratch), scale=args.scale, seed=args.seed, workers=args.workers)
        seconds = time.perf_counter() - started
        files = sorted(Path(scratch).glob("H*/dicom/*.dcm"))
        sizes = [(int(ds.Rows), int(ds.Columns))
                 for ds in (pydicom.dcmread(f, stop_before_pixels=True) for f in files)]
        stored = sum(f.stat().st_size for f in files)
    images = len(files)
    rate = images / seconds
    per_core = rate / args.workers
    cores = os.cpu_count() or 1
    result = {
        "generator_version": GENERATOR_VERSION,
        "scale": args.scale,
        "seed": args.seed,
        "images": images,
        "workers": args.workers,
        "seconds": round(seconds, 1),
        "images_per_s": round(rate, 3),
        "images_per_s_per_core": round(per_core, 3),
        "goal_images_per_s_per_core": GOAL_PER_CORE,
        "meets_goal": per_core >= GOAL_PER_CORE,
        "mean_megapixels": round(sum(r * c for r, c in sizes) / images / 1e6, 3),
        "max_side_px": max(max(size) for size in sizes),
        "mean_dicom_mb": round(stored / images / 1e6, 3),
        "full_cohort_images": FULL_COHORT,
        "full_cohort_s_with_these_workers": round(FULL_COHORT / rate),
        "machine_cores": cores,
        "full_cohort_s_all_cores_linear": round(FULL_COHORT / (per_core * cores)),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    (REPO / "benchmarks").mkdir(exist_ok=True)
    (REPO / "benchmarks" / "synth_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
