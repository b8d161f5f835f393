"""The mean-position baseline on the full synthetic cohort (14,660 images), without pixels.

Why: the unit test checks DSC < 0.2 on the 1 % cohort; the claim is about the cohort the paper's
numbers would be reproduced on. Labels come from `neovert.synth.generate.layout` (anatomy and
framing only, the same numbers the written LabelMe files are made of), so the whole cohort is
scored in a couple of minutes. The prediction for every image is the cohort's mean T1/T7/T12
quadrilateral in each of three frames (image-size normalised, pixels, mm); see
`neovert.synth.baseline`.

Writes benchmarks/synth_baseline.json and prints it. Exits 1 if any DSC reaches 0.2.

    .venv/bin/python bench/synth_baseline.py [--scale 1.0] [--seed 102]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from cohort_args import cohort_args
from neovert.synth.baseline import mean_position_dsc, planned_cases
from neovert.synth.cohort import plan_cohort
from neovert.synth.generate import GENERATOR_VERSION

REPO = Path(__file__).resolve().parents[1]
LIMIT = 0.2


def main() -> None:
    args = cohort_args(__doc__)

    started = time.perf_counter()
    plans = plan_cohort(args.scale, args.seed)
    scores = mean_position_dsc(planned_cases(args.seed, plans))
    result = {
        "generator_version": GENERATOR_VERSION,
        "scale": args.scale,
        "seed": args.seed,
        "images": len(plans),
        "mean_dsc": {frame: {level: round(v, 4) for level, v in per.items()} for frame, per in scores.items()},
        "limit": LIMIT,
        "pass": all(v < LIMIT for per in scores.values() for v in per.values()),
        "seconds": round(time.perf_counter() - started, 1),
    }
    (REPO / "benchmarks").mkdir(exist_ok=True)
    (REPO / "benchmarks" / "synth_baseline.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["pass"] else 1)


if __name__ == "__main__":
    main()
