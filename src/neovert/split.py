"""Patient-level train/val/test split, stratified by hospital x GA group x BW group.

Rule (deterministic for a seed): patients are shuffled with the seed, grouped by stratum
(hospital, GA group, BW group), and assigned one at a time, each to the set whose image quota is
furthest behind. "Behind" is summed over four levels (the stratum, the hospital, the GA group,
the BW group and the whole cohort), so a rare stratum with one patient still goes where its
hospital and its groups need it, and every hospital gets its share of each set. A hospital
with at least as many patients as sets gets at least one patient in every set: when its last
patients are all that is left to fill a missing set, they go there. All images of a patient (and
of a family, when a family_id column exists) land in one set.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from neovert.io import markdown_table, write_json, write_text, write_tsv

STAGE_VERSION = "1"
SETS = ("train", "val", "test")
REQUIRED = ("case_id", "patient_id", "hospital", "ga_group", "bw_group")
log = logging.getLogger(__name__)


def assign_sets(cases: pd.DataFrame, fractions: dict[str, float], seed: int) -> pd.Series:
    """Set name per case (index aligned with `cases`)."""
    missing = [c for c in REQUIRED if c not in cases.columns]
    if missing:
        raise ValueError(f"split manifest lacks columns {missing}")
    weights = np.array([fractions[s] for s in SETS], dtype=float)
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"split fractions must be non-negative and not all zero: {fractions}")
    weights /= weights.sum()
    unit = cases["family_id"].fillna(cases["patient_id"]) if "family_id" in cases else cases["patient_id"]
    units = (
        cases.assign(unit=unit.astype(str))
        .groupby("unit", sort=True)
        .agg(n=("case_id", "size"), hospital=("hospital", "first"),
             ga_group=("ga_group", "first"), bw_group=("bw_group", "first"))
    )
    order = np.random.default_rng(seed).permutation(len(units))
    units = units.iloc[order].sort_values(["hospital", "ga_group", "bw_group"], kind="stable")

    seen: dict[tuple, float] = {}
    taken: dict[tuple, np.ndarray] = {}
    chosen: dict[str, str] = {}
    left = units.hospital.value_counts().to_dict()  # units of each hospital still to assign
    for name, unit_row in units.iterrows():
        levels = [("all",), ("hospital", unit_row.hospital), ("ga", unit_row.ga_group),
                  ("bw", unit_row.bw_group), ("stratum", unit_row.hospital, unit_row.ga_group, unit_row.bw_group)]
        behind = sum(weights * (seen.get(lv, 0) + unit_row.n) - taken.get(lv, np.zeros(3)) for lv in levels)
        absent = (taken.get(("hospital", unit_row.hospital), np.zeros(3)) == 0) & (weights > 0)
        if 0 < absent.sum() >= left[unit_row.hospital]:
            behind = np.where(absent, behind, -np.inf)  # last chance to put this hospital in every set
        left[unit_row.hospital] -= 1
        pick = int(np.argmax(behind))
        for lv in levels:
            seen[lv] = seen.get(lv, 0) + unit_row.n
            taken[lv] = taken.get(lv, np.zeros(3))
            taken[lv][pick] += unit_row.n
        chosen[name] = SETS[pick]
    return unit.astype(str).map(chosen)


def balance_report(split: pd.DataFrame) -> pd.DataFrame:
    """The paper's Table 1 layout per set and hospital: images, GA/BW group % and tube %."""
    rows = []
    for (set_name, hospital), part in split.groupby(["set", "hospital"], sort=True):
        rows.append(_shares(part, set=set_name, hospital=hospital))
    for set_name, part in split.groupby("set", sort=True):
        rows.append(_shares(part, set=set_name, hospital="all"))
    return pd.DataFrame(rows)


def _shares(part: pd.DataFrame, **keys: str) -> dict:
    row = {**keys, "images": len(part), "patients": part.patient_id.nunique()}
    for column, groups in (("ga_group", ("GA01", "GA02", "GA03")), ("bw_group", ("BW01", "BW02", "BW03"))):
        for group in groups:
            row[f"{group}_pct"] = 100 * (part[column] == group).mean()
    if "tube" in part:
        row["tube_pct"] = 100 * part.tube.astype(float).mean()
    return row


def split_cohort(manifest: pd.DataFrame, fractions: dict[str, float], seed: int, out_dir: Path) -> dict[str, int]:
    """Write split.tsv, splits_final.json (one fold: train vs val) and balance.tsv to out_dir."""
    manifest = manifest.sort_values("case_id").reset_index(drop=True)
    split = manifest.assign(set=assign_sets(manifest, fractions, seed))
    leaked = split.groupby("patient_id")["set"].nunique().gt(1)
    if leaked.any():
        raise AssertionError(f"{int(leaked.sum())} patients in more than one set")
    columns = [c for c in (*REQUIRED, "tube", "set") if c in split]
    write_tsv(split[columns], out_dir / "split.tsv")
    folds = [{s: sorted(split.case_id[split.set == s]) for s in ("train", "val")}]
    write_json(out_dir / "splits_final.json", folds)
    report = balance_report(split)
    write_tsv(report, out_dir / "balance.tsv")
    overall = report[report.hospital == "all"].set_index("set")
    share_columns = [c for c in overall.columns if c.endswith("_pct")]
    spread = (overall[share_columns].max() - overall[share_columns].min()).round(2)
    write_text(out_dir / "balance.md", markdown_table(report, digits=1) + "\nLargest difference between sets (percentage points): "
               + ", ".join(f"{k} {v}" for k, v in spread.items()) + "\n")
    counts = {s: int((split.set == s).sum()) for s in SETS}
    log.info("split %s images: %s", len(split), counts)
    return counts


def load_manifests(paths: list[Path]) -> pd.DataFrame:
    frames = [pd.read_csv(p, sep="\t", dtype={"case_id": str, "patient_id": str}) for p in paths]
    return pd.concat(frames, ignore_index=True)
