"""The split at the paper's full scale: 14,660 images of 11 hospitals, 11,860 : 1,400 : 1,400, seed 102.

Why: the unit tests run at a tenth of the cohort; the acceptance numbers (set sizes within 1 % of
target, every GA/BW share per set within 2 percentage points of the cohort, every hospital in
every set, no patient in two sets) are claims about the full cohort. The manifest comes from
the demo generator's planner (`neovert.synth.cohort.split_manifest`), the same Table 1 quotas and
patients that `neovert synth --scale 1.0` would render, without the pixels.

Two runs: a fresh split, and a re-split after new images arrive (10 % of the patients are new,
and 5 % of the earlier patients with several images get their last image late), which must
keep every earlier patient's set.

Writes benchmarks/split_full_scale.json and .tsv (one row per run and set) and the split itself
(split.tsv, splits_final.json, balance.tsv, balance.md) under benchmarks/split_full_scale/.
Exits 1 when a check fails.

    .venv/bin/python bench/split_full_scale.py [--scale 1.0] [--seed 102]
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from cohort_args import cohort_args

from neovert.split import SETS, load_manifests, split_cohort
from neovert.synth.cohort import split_manifest

REPO = Path(__file__).resolve().parents[1]
PAPER = {"train": 11860, "val": 1400, "test": 1400}
SIZE_TOLERANCE = 0.01  # of each set's target
SHARE_TOLERANCE_PP = 2.0


def checks(summary: dict) -> dict[str, bool]:
    """The issue's acceptance checks on one split's balance summary."""
    return {
        "sizes_within_1pct": all(abs(summary["images"][s] - summary["target_images"][s])
                                 <= SIZE_TOLERANCE * summary["target_images"][s] for s in SETS),
        "ga_bw_within_2pp": all(summary["max_share_deviation_pp"][s][k] <= SHARE_TOLERANCE_PP
                                for s in SETS for k in ("ga", "bw")),
        "every_hospital_in_every_set": all(summary["hospitals"][s] == summary["hospitals_total"] for s in SETS),
        "no_leakage": summary["leaked_patients"] == 0,
    }


def earlier_delivery(manifest: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, set[str]]:
    """The manifest as it stood before the newest images: some patients absent, some with one image fewer."""
    rng = np.random.default_rng(seed)
    patients = manifest.patient_id.unique()
    new = set(rng.choice(patients, size=len(patients) // 10, replace=False))
    earlier = manifest[~manifest.patient_id.isin(new)]
    multi = earlier.patient_id.value_counts().loc[lambda n: n > 1].index.to_numpy()
    grown = set(rng.choice(np.sort(multi), size=len(multi) // 20, replace=False))
    last = earlier.groupby("patient_id").case_id.transform("max") == earlier.case_id
    return earlier[~(earlier.patient_id.isin(grown) & last)], grown


def main() -> None:
    args = cohort_args(__doc__)

    started = time.perf_counter()
    manifest = split_manifest(args.scale, args.seed)
    plan_s = time.perf_counter() - started
    out = REPO / "benchmarks" / "split_full_scale"
    started = time.perf_counter()
    fresh = split_cohort(manifest, PAPER, args.seed, out)
    split_s = time.perf_counter() - started

    earlier, grown = earlier_delivery(manifest, args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        split_cohort(earlier, PAPER, args.seed, Path(scratch) / "before")
        before = load_manifests([Path(scratch) / "before" / "split.tsv"])
        started = time.perf_counter()
        resplit = split_cohort(manifest, PAPER, args.seed, Path(scratch) / "after", previous=before)
        resplit_s = time.perf_counter() - started
        after = load_manifests([Path(scratch) / "after" / "split.tsv"])
    old_set = before.groupby("patient_id")["set"].first()
    returning = after[after.patient_id.isin(old_set.index)]
    stable = {
        "earlier_cases_unchanged": bool(before.merge(after, on="case_id").eval("set_x == set_y").all()),
        "returning_patients_new_images_kept": bool(
            (returning.set == returning.patient_id.map(old_set)).all() and returning.patient_id.isin(grown).any()),
    }

    runs = {"fresh": fresh, "resplit": resplit}
    result = {
        "scale": args.scale, "seed": args.seed, "fractions": PAPER,
        "images": len(manifest), "patients": int(manifest.patient_id.nunique()),
        "plan_s": round(plan_s, 3), "split_s": round(split_s, 3), "resplit_s": round(resplit_s, 3),
        "earlier_images": len(earlier), "new_images": len(manifest) - len(earlier),
        "runs": runs,
        "checks": {name: checks(summary) for name, summary in runs.items()} | {"resplit_stability": stable},
    }
    result["pass"] = all(all(c.values()) for c in result["checks"].values())
    (REPO / "benchmarks").mkdir(exist_ok=True)
    (REPO / "benchmarks" / "split_full_scale.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = [{"run": name, "set": s, "images": summary["images"][s], "target": summary["target_images"][s],
             **{f"max_{k}_dev_pp": v for k, v in summary["max_share_deviation_pp"][s].items()},
             "hospitals": summary["hospitals"][s], "leaked_patients": summary["leaked_patients"]}
            for name, summary in runs.items() for s in SETS]
    with open(REPO / "benchmarks" / "split_full_scale.tsv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    print(f"{len(manifest)} images, {result['patients']} patients; split {split_s:.2f} s, re-split {resplit_s:.2f} s")
    print("| run | set | images | target | max GA dev (pp) | max BW dev (pp) | max tube dev (pp) "
          "| hospitals | leaked |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(v) for v in row.values()) + " |")
    print((out / "balance.md").read_text())
    print(json.dumps(result["checks"], indent=2))
    sys.exit(0 if result["pass"] else 1)


if __name__ == "__main__":
    main()
