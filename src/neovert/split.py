"""Patient-level train/val/test split, stratified by hospital x GA group x BW group.

Unit of assignment: a patient, or a family when the manifest has a `family_id` column (twins
share one), so that no patient and no twin pair is ever in two sets; a patient's later images
would otherwise let the test set leak into training. A unit takes the hospital and groups of its
first case (by case_id).

Rule (deterministic for a seed): units are shuffled with the seed, ordered by stratum (hospital,
GA group, BW group), and assigned one at a time, each to the set whose image quota is furthest
behind, summed over five levels: the stratum, the hospital, the GA group, the BW group and the
whole cohort. Quotas count images, as the paper's fractions do.

Rare strata, the explicit rule (none of them is an error):
- a stratum with fewer units than sets cannot follow its own quota; the other four levels of
  the sum decide, so its units go where their hospital and groups are furthest behind;
- a hospital with at least as many units as sets with a non-zero fraction gets at least one
  unit in each of them (when its remaining units are no more than the sets it still lacks, they
  go to those sets); a hospital with fewer units (one or two patients) cannot, and is logged;
- a set with fraction 0 gets nothing;
- a missing GA or BW group is a group of its own ("NA"), balanced like the others: no case is
  dropped for it.

Stable re-splitting: given an earlier split (`previous`), every patient in it keeps its set,
new images of that patient included, and a new patient whose family is already placed joins the
set holding most of the family's earlier images. Only the remaining units are assigned by the
rule above, with the kept images counted in every quota so that the new ones restore the balance.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from neovert import FLAG_COLUMNS
from neovert.io import markdown_table, read_tsv, write_json, write_text, write_tsv

STAGE_VERSION = "3"  # 2: cohort and max_diff rows in balance.tsv, previous splits kept; 3: hard-film flags
SETS = ("train", "val", "test")
REQUIRED = ("case_id", "patient_id", "hospital", "ga_group", "bw_group")
GROUPS = {"ga_group": ("GA01", "GA02", "GA03"), "bw_group": ("BW01", "BW02", "BW03")}
MISSING_GROUP = "NA"
log = logging.getLogger(__name__)


class _Quotas:
    """Images seen and placed per balancing level; a set's deficit is its fair share of what the
    level has seen (including the unit being placed) minus what it already holds."""

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = weights
        self.seen: defaultdict[tuple, float] = defaultdict(float)
        self.held: defaultdict[tuple, np.ndarray] = defaultdict(lambda: np.zeros(len(SETS)))

    def deficit(self, levels: list[tuple], images: int) -> np.ndarray:
        return sum(self.weights * (self.seen[lv] + images) - self.held[lv] for lv in levels)

    def add(self, levels: list[tuple], per_set: np.ndarray) -> None:
        for lv in levels:
            self.seen[lv] += per_set.sum()
            self.held[lv] += per_set


def assign_sets(cases: pd.DataFrame, fractions: Mapping[str, float], seed: int,
                previous: Mapping[str, str] | None = None) -> pd.Series:
    """Set name per case (index aligned with `cases`); `previous` maps patient_id to a kept set."""
    weights = _weights(fractions)
    ordered = _checked(cases).sort_values("case_id", kind="stable")
    unit = (ordered.family_id.fillna(ordered.patient_id) if "family_id" in ordered else ordered.patient_id).astype(str)
    kept = ordered.patient_id.map({} if previous is None else dict(previous))
    units = ordered.assign(unit=unit).groupby("unit", sort=True).agg(
        images=("case_id", "size"), hospital=("hospital", "first"),
        ga_group=("ga_group", "first"), bw_group=("bw_group", "first"))
    kept_images = (pd.crosstab(unit[kept.notna()], kept.dropna())
                   .reindex(index=units.index, columns=list(SETS), fill_value=0).to_numpy(float))
    pinned = kept_images.sum(axis=1) > 0

    quotas = _Quotas(weights)
    home: dict[str, str] = {}
    for row, kept_row in zip(units[pinned].itertuples(), kept_images[pinned]):
        pick = int(np.argmax(kept_row))  # the family's new patients join its earlier majority
        quotas.add(_levels(row), kept_row + np.eye(len(SETS))[pick] * (row.images - kept_row.sum()))
        home[row.Index] = SETS[pick]

    free = units[~pinned]
    free = free.iloc[np.random.default_rng(seed).permutation(len(free))]
    free = free.sort_values(["hospital", "ga_group", "bw_group"], kind="stable")
    left = free.hospital.value_counts().to_dict()  # units of each hospital still to place
    for row in free.itertuples():
        levels = _levels(row)
        deficit = quotas.deficit(levels, row.images)
        absent = (quotas.held[("hospital", row.hospital)] == 0) & (weights > 0)
        if 0 < absent.sum() >= left[row.hospital]:
            deficit = np.where(absent, deficit, -np.inf)  # last chance to reach every set
        left[row.hospital] -= 1
        pick = int(np.argmax(deficit))
        quotas.add(levels, np.eye(len(SETS))[pick] * row.images)
        home[row.Index] = SETS[pick]

    for hospital, count in units.hospital.value_counts().sort_index().items():
        missing = [s for s, w, n in zip(SETS, weights, quotas.held[("hospital", hospital)]) if w > 0 and n == 0]
        if missing:
            log.warning("%s: no patients in %s (%d patients or families in all)", hospital, ", ".join(missing), count)
    return unit.map(home).mask(kept.notna(), kept).reindex(cases.index)


def _levels(unit) -> list[tuple]:
    return [("all",), ("hospital", unit.hospital), ("ga", unit.ga_group), ("bw", unit.bw_group),
            ("stratum", unit.hospital, unit.ga_group, unit.bw_group)]


def _weights(fractions: Mapping[str, float]) -> np.ndarray:
    weights = np.array([fractions[s] for s in SETS], dtype=float)
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"split fractions must be non-negative and not all zero: {dict(fractions)}")
    return weights / weights.sum()


def _checked(cases: pd.DataFrame) -> pd.DataFrame:
    """The manifest with missing groups named; a clear error for what cannot be split."""
    missing = [c for c in REQUIRED if c not in cases.columns]
    if missing:
        raise ValueError(f"split manifest lacks columns {missing}")
    if cases.empty:
        raise ValueError("split manifest has no cases")
    for column in ("case_id", "patient_id", "hospital"):
        if cases[column].isna().any():
            raise ValueError(f"split manifest: {int(cases[column].isna().sum())} cases without {column}")
    duplicated = cases.case_id[cases.case_id.duplicated()]
    if len(duplicated):
        raise ValueError(f"split manifest lists case {duplicated.iloc[0]} more than once "
                         f"({len(duplicated)} duplicates)")
    return cases.fillna({column: MISSING_GROUP for column in GROUPS})


def kept_sets(previous: pd.DataFrame) -> dict[str, str]:
    """patient_id -> set of an earlier split.tsv (one set per patient, or it cannot be kept)."""
    unknown = sorted(set(previous["set"]) - set(SETS))
    if unknown:
        raise ValueError(f"previous split has unknown sets {unknown}")
    sets = previous.groupby("patient_id")["set"].unique()
    leaked = sets[sets.str.len() > 1]
    if len(leaked):
        raise ValueError(f"previous split has {len(leaked)} patients in more than one set, e.g. {leaked.index[0]}")
    return sets.str[0].to_dict()


def balance_report(split: pd.DataFrame) -> pd.DataFrame:
    """The paper's Table 1 layout (images, patients, GA/BW group % and tube %) per hospital and
    over all hospitals ("all"), for each set and for the whole cohort (set "all"); then, set
    "max_diff", the largest absolute difference of each share between the sets that hold the
    hospital, in percentage points."""
    hospitals = [*sorted(split.hospital.unique()), "all"]
    rows = []
    for set_name in (*SETS, "all"):
        in_set = split if set_name == "all" else split[split.set == set_name]
        for hospital in hospitals:
            part = in_set if hospital == "all" else in_set[in_set.hospital == hospital]
            rows.append(_shares(part, set=set_name, hospital=hospital))
    table = pd.DataFrame(rows).astype({"images": "Int64", "patients": "Int64"})
    shares = [c for c in table if c.endswith("_pct")]
    by_set = table[table.set.isin(SETS)].groupby("hospital", sort=False)[shares]
    spread = (by_set.max() - by_set.min()).reset_index().assign(set="max_diff")
    return pd.concat([table, spread], ignore_index=True)[table.columns]


def _shares(part: pd.DataFrame, **keys: str) -> dict:
    row = {**keys, "images": len(part), "patients": part.patient_id.nunique()}
    for column, groups in GROUPS.items():
        for group in groups:
            row[f"{group}_pct"] = 100 * (part[column] == group).mean() if len(part) else np.nan
    if "tube" in part:
        row["tube_pct"] = 100 * part.tube.astype(float).mean()
    return row


def balance_summary(split: pd.DataFrame, fractions: Mapping[str, float]) -> dict:
    """The acceptance numbers of a split, per set: images against the fractions' target, the
    largest deviation of any GA, BW or tube share from the whole cohort (percentage points),
    hospitals present; and patients found in more than one set (must be 0)."""
    weights = _weights(fractions)
    cohort = _shares(split)
    summary: dict = {"images": {}, "target_images": {}, "max_share_deviation_pp": {}, "hospitals": {}}
    for set_name, weight in zip(SETS, weights):
        part = split[split.set == set_name]
        shares = _shares(part)
        summary["images"][set_name] = len(part)
        summary["target_images"][set_name] = round(float(weight) * len(split), 1)
        summary["max_share_deviation_pp"][set_name] = None if part.empty else {
            kind: round(float(max((abs(shares[k] - cohort[k]) for k in cohort if k.startswith(prefix)), default=0)), 2)
            for kind, prefix in (("ga", "GA"), ("bw", "BW"), ("tube", "tube"))}
        summary["hospitals"][set_name] = part.hospital.nunique()
    summary["hospitals_total"] = split.hospital.nunique()
    summary["leaked_patients"] = int(split.groupby("patient_id")["set"].nunique().gt(1).sum())
    return summary


def balance_markdown(report: pd.DataFrame) -> str:
    """balance.tsv for people: one Table 1 per set and for the cohort, then the differences."""
    named = report.rename(columns=lambda c: c.replace("_pct", " %"))
    sections = ["# Split balance: the paper's Table 1 per set (shares in % of the set's images)\n"]
    for set_name, title in (*((s, s) for s in SETS), ("all", "whole cohort")):
        part = named[named.set == set_name].drop(columns="set")
        sections.append(f"## {title}\n\n" + markdown_table(part, digits=1))
    spread = named[named.set == "max_diff"].drop(columns=["set", "images", "patients"])
    sections.append("## Largest difference between sets (percentage points)\n\n" + markdown_table(spread, digits=2))
    return "\n".join(sections)


def split_cohort(manifest: pd.DataFrame, fractions: Mapping[str, float], seed: int, out_dir: Path,
                 previous: pd.DataFrame | None = None) -> dict:
    """Write split.tsv, splits_final.json (one fold: train vs val), balance.tsv and balance.md.

    split.tsv keeps the manifest's tube and hard-film flags where it has them: evaluate reports
    on the test set by them. `previous` is an earlier split.tsv whose patients keep their sets.
    Returns `balance_summary` and the patients kept from `previous` and newly assigned (for
    provenance)."""
    manifest = manifest.sort_values("case_id").reset_index(drop=True)
    kept = kept_sets(previous) if previous is not None else {}
    split = manifest.assign(set=assign_sets(manifest, fractions, seed, kept))
    summary = balance_summary(split, fractions)
    if summary["leaked_patients"]:
        raise AssertionError(f"{summary['leaked_patients']} patients in more than one set")
    patients = split.drop_duplicates("patient_id").patient_id.isin(kept)
    if previous is not None:
        gone = len(set(previous.case_id) - set(split.case_id))
        log.info("kept the sets of %d earlier patients, assigned %d new; %d earlier cases are no longer in the manifest",
                 patients.sum(), (~patients).sum(), gone)
    columns = [c for c in (*REQUIRED, "family_id", "tube", *FLAG_COLUMNS, "set") if c in split]
    flags = dict.fromkeys((c for c in FLAG_COLUMNS if c in split), "Int64")  # 0/1 or empty, not 1.000000
    write_tsv(split[columns].astype(flags), out_dir / "split.tsv")
    folds = [{s: sorted(split.case_id[split.set == s]) for s in ("train", "val")}]
    write_json(out_dir / "splits_final.json", folds)
    report = balance_report(split)
    write_tsv(report, out_dir / "balance.tsv", float_format="%.2f")
    write_text(out_dir / "balance.md", balance_markdown(report))
    counts = {**summary, "patients_kept": int(patients.sum()), "patients_new": int((~patients).sum())}
    log.info("split %d images: %s; largest GA/BW/tube share deviation from the cohort (pp): %s",
             len(split), summary["images"], summary["max_share_deviation_pp"])
    return counts


def labelled(manifest: pd.DataFrame, qc: pd.DataFrame) -> pd.DataFrame:
    """The cases rasterize gave a label map: those `excluded` in its qc.tsv have none, and
    training on or scoring them would fail on the missing file. Each one dropped is logged."""
    excluded = manifest.case_id.isin(qc.case_id[qc.status == "excluded"])
    for case_id in manifest.case_id[excluded]:
        log.warning("%s left out of the split: rasterize excluded it (see its qc.tsv)", case_id)
    return manifest[~excluded].reset_index(drop=True)


def load_manifests(paths: list[Path]) -> pd.DataFrame:
    """Concatenated manifests (or an earlier split.tsv, or rasterize's qc.tsv tables)."""
    return pd.concat([read_tsv(p) for p in paths], ignore_index=True)
