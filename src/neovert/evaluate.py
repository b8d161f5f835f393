"""Evaluation stage: score predicted label maps against the ground truth and write the tables.

Three levels, each labelled in its file: image (one row per case and class), patient (mean of a
patient's images, as the paper's patient-level figures) and summaries (paper Tables 3 and 4,
and the same per hospital, GA group and BW group, and for each hard-film flag its flagged
images against the rest).

Aggregation rules, the same in every summary table:

- DSC/IoU mean, SD and CI over every unit except both_empty ones; a miss or a spurious
  prediction counts as 0.
- HD95/MSD over finite values only (n_valid); the infinite values of misses and spurious
  predictions are counted in n_missed / n_spurious, never averaged and never dropped silently.
- 95% CI = mean ± 1.96·SD/√n with the sample SD (ddof = 1): the method that reproduces the
  paper's Table 3 with n = images. Patient-level tables use n = patients and are wider; there a
  patient counts as missed/spurious if any of its images is, as both_empty if all are.
- Table 4: share of images with DSC >= cutoff (the >= convention is ours; the paper does not
  say), misses as DSC 0, both_empty excluded.
- Penalised variant (optional, files ``*_penalised``): a missed or spurious structure's HD95 and
  MSD count as the image diagonal in mm instead of +inf, so every image enters the mean. Which
  convention the paper used is unknown (its HD95 CI needs all n = 1,400 finite values).
- Post-processing effect: the same per-image metrics on the raw predictions, set against the
  post-processed ones per hospital and class (``postprocess_effect``), so what keeping the
  largest component did is visible for each hospital.

Outputs are byte-identical on rerun: rows sorted, floats fixed at 6 decimals, provenance given
by the caller and no timestamps.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from neovert import FLAG_COLUMNS
from neovert.io import markdown_table, read_image, write_text, write_tsv
from neovert.metrics import CLASSES, confidence_interval, score_image
from neovert.parallel import pool_map
from neovert.provenance import hash_files

# 3: hard-film flags per image, by_hard_film; 4: integer distances with square pixels (values move by a few ulp)
STAGE_VERSION = "4"

log = logging.getLogger(__name__)

ID_COLUMNS = ["case_id", "patient_id", "hospital", "ga_group", "bw_group"]
METRICS = ["dsc", "iou", "hd95_mm", "msd_mm"]
DIRECTED = ["msd_pred_to_truth_mm", "msd_truth_to_pred_mm"]
PER_IMAGE_COLUMNS = [*ID_COLUMNS, *FLAG_COLUMNS, "class", "status", *METRICS, *DIRECTED,
                     "n_pred_px", "n_truth_px", "diagonal_mm"]
PATIENT_KEYS = ["patient_id", "hospital", "ga_group", "bw_group"]
STATUSES = ["ok", "missed", "spurious", "both_empty"]
TABLE_CLASSES = ["T1", "T7", "T12", "lung"]  # paper order: vertebrae first, lung (context) last
DSC_CUTOFFS = [0.50, 0.60, 0.70, 0.75, 0.80, 0.90]
UNKNOWN_GROUP = "unknown"
FILMS = {1: "flagged", 0: "rest"}  # a hard-film flag's value -> its group in by_hard_film

METRIC_LABELS = {"dsc": "DSC", "iou": "IoU", "hd95_mm": "HD95 (mm)", "msd_mm": "MSD (mm)"}
IMAGE_NOTE = "one row per case and class; +inf = exactly one mask empty (missed/spurious), NaN = undefined"
PATIENT_NOTE = "mean of the patient's images per class; NaN (both_empty) skipped, +inf kept"
SUMMARY_NOTE = (
    "DSC/IoU over all units but both_empty (misses and spurious count as 0); HD95/MSD over the "
    "n_valid finite values (misses and spurious are infinite: counted, not averaged); "
    "95% CI = mean +/- 1.96*SD/sqrt(n), SD with ddof=1"
)
HARD_FILM_NOTE = (
    "per hard-film flag: flagged = images with the flag 1, rest = images with it 0 (images whose clinical "
    "sheet lacks the flag are in neither); a flag no test image has is left out"
)
NO_HARD_FILM_NOTE = (
    "no test image is flagged as a hard film (the clinical sheets carry no hard-film flags, or none is set): "
    "nothing to break down"
)
CUTOFF_NOTE = "share of images with DSC >= cutoff; misses and spurious count as DSC 0, both_empty excluded"
PENALTY_NOTE = "PENALISED: HD95/MSD of a missed or spurious structure = the image diagonal in mm (not +inf)"
EFFECT_NOTE = (
    "metrics before (raw network output) and after post-processing (largest component per vertebra); "
    "n_changed = images whose label map of the class changed; DSC over all but both_empty, HD95 over "
    "finite values (n_valid)"
)


def score_folder(pred_dir: Path, truth_dir: Path, cases: pd.DataFrame | None = None, workers: int = 1) -> pd.DataFrame:
    """Score ground-truth label maps against the predictions of the same name.

    Files are ``<case_id>.nii.gz``; hidden files (interrupted writes) are ignored. The cases
    scored are those of `cases` (case_id, patient_id, hospital, ga_group, bw_group, and the
    hard-film flags where it has them; e.g. the test rows of the split, while `truth_dir` also
    holds training cases), or every ground-truth file without it; then each case is its own
    patient, the hospital is the case-id prefix before the first "_", the GA and BW groups are
    "unknown" and the flags NA. A scored case without a prediction is
    scored as an all-background prediction (a miss for every class present), so a failed
    inference lowers the numbers instead of vanishing from them. Cases are scored in a pool of
    `workers` processes. Returns the per-image table (PER_IMAGE_COLUMNS, one row per case and
    class), sorted by case_id, then class as in CLASSES.
    """
    truth_paths, pred_paths = _label_files(Path(truth_dir)), _label_files(Path(pred_dir))
    orphans = sorted(set(pred_paths) - set(truth_paths))
    if orphans:
        raise ValueError(f"{len(orphans)} prediction(s) without ground truth, e.g. {', '.join(orphans[:3])}")
    meta = _ids_metadata(sorted(truth_paths)) if cases is None else _table_metadata(cases)
    case_ids = sorted(meta["case_id"])
    no_truth = [c for c in case_ids if c not in truth_paths]
    if no_truth:
        raise ValueError(f"{len(no_truth)} case(s) without a ground-truth file, e.g. {', '.join(no_truth[:3])}")
    unlisted = len(set(pred_paths) - set(case_ids))
    if unlisted:
        log.warning("%d prediction(s) of cases outside the case table not scored", unlisted)
    if not case_ids:
        log.warning("no cases to score")
        return pd.DataFrame(columns=PER_IMAGE_COLUMNS)

    tasks = [(case_id, truth_paths[case_id], pred_paths.get(case_id)) for case_id in case_ids]
    rows = [row for rows in pool_map(_score_case, tasks, workers) for row in rows]
    log.info("scored %d cases (%d without prediction)", len(case_ids), len(set(case_ids) - set(pred_paths)))
    table = pd.DataFrame(rows).merge(meta, on="case_id", how="left", validate="many_to_one")
    return _sort(table, ["case_id"], list(CLASSES))[PER_IMAGE_COLUMNS]


def _score_case(task: tuple[str, Path, Path | None]) -> list[dict]:
    """The per-class rows of one case; the diagonal in mm is the penalised variant's miss value."""
    case_id, truth_path, pred_path = task
    truth, spacing = read_image(truth_path)
    if truth.ndim != 2:
        raise ValueError(f"{case_id}: ground truth is not a 2D label map (shape {truth.shape})")
    if pred_path is not None:
        pred, pred_spacing = read_image(pred_path)
        _check_same_grid(case_id, pred.shape, truth.shape, pred_spacing, spacing)
    else:
        log.warning("%s: no prediction, scored as all background", case_id)
        pred = np.zeros_like(truth)
    diagonal = math.hypot(truth.shape[0] * spacing[0], truth.shape[1] * spacing[1])
    return [{"case_id": case_id, **row, "diagonal_mm": diagonal} for row in score_image(pred, truth, spacing)]


def write_tables(per_image: pd.DataFrame, out_dir: Path, provenance: dict[str, str],
                 raw: pd.DataFrame | None = None, penalised: bool = False) -> list[Path]:
    """Write the per-image, per-patient and summary tables (TSV, plus Markdown for summaries).

    `raw` is the per-image table of the predictions before post-processing (adds
    ``postprocess_effect``); `penalised` adds the ``*_penalised`` summaries. Every file starts
    with the provenance ("# key: value" lines in TSVs, readable back with
    ``pd.read_csv(path, sep="\\t", comment="#")``; a bullet list in Markdown). Returns the paths
    written, in writing order.
    """
    missing = sorted(set(PER_IMAGE_COLUMNS) - set(per_image.columns))
    if missing:
        raise ValueError(f"per-image table lacks columns {missing}")
    for key, value in provenance.items():
        if any(ch in f"{key}{value}" for ch in "\r\n"):
            raise ValueError(f"provenance {key!r} must fit on one line")
    out_dir = Path(out_dir)
    per_image = _sort(per_image[PER_IMAGE_COLUMNS].astype(dict.fromkeys(FLAG_COLUMNS, "Int64")),
                      ["case_id"], list(CLASSES))
    per_patient = patient_table(per_image)
    images, patients = _image_units(per_image), _patient_units(per_patient)

    tables = [  # (file stem, title, note, table, with a Markdown twin)
        ("per_image", "Per-image metrics", IMAGE_NOTE, per_image, False),
        ("per_patient", "Per-patient metrics", PATIENT_NOTE, per_patient, False),
        ("table3", "Table 3, image level (n = images)", SUMMARY_NOTE, summarise(images, [], "images"), True),
        (
            "table3_patient",
            "Table 3, patient level (n = patients)",
            SUMMARY_NOTE,
            summarise(patients, [], "patients"),
            True,
        ),
        ("table4", "Table 4, image level (n = images)", CUTOFF_NOTE, cutoff_table(per_image), True),
    ]
    for column, name in (("hospital", "hospital"), ("ga_group", "GA group"), ("bw_group", "BW group")):
        title = f"By {name}, image level (n = images)"
        tables.append((f"by_{column}", title, SUMMARY_NOTE, summarise(images, [column], "images"), True))
    hard = hard_film_table(images)
    tables.append(("by_hard_film", "By hard film, flagged vs the rest, image level (n = images)",
                   f"{HARD_FILM_NOTE}; {SUMMARY_NOTE}" if len(hard) else NO_HARD_FILM_NOTE, hard, True))
    if penalised:
        worst = penalise(per_image)
        note = f"{PENALTY_NOTE}; {SUMMARY_NOTE}"
        tables += [
            ("table3_penalised", "Table 3, image level, PENALISED misses", note,
             summarise(_image_units(worst), [], "images"), True),
            ("table3_patient_penalised", "Table 3, patient level, PENALISED misses", note,
             summarise(_patient_units(patient_table(worst)), [], "patients"), True),
            ("by_hospital_penalised", "By hospital, image level, PENALISED misses", note,
             summarise(_image_units(worst), ["hospital"], "images"), True),
        ]
    if raw is not None:
        tables.append(("postprocess_effect", "Effect of post-processing, image level", EFFECT_NOTE,
                       postprocess_effect(raw, per_image), True))

    written = []
    for stem, title, note, frame, markdown in tables:
        header = {**provenance, "table": title, "note": note}
        write_tsv(frame, out_dir / f"{stem}.tsv", na_rep="NaN", header=header)
        written.append(out_dir / f"{stem}.tsv")
        if markdown:
            written.append(_write_markdown(out_dir / f"{stem}.md", frame, title, header))
    return written


def penalise(per_image: pd.DataFrame) -> pd.DataFrame:
    """HD95 and MSD of missed and spurious structures set to the image diagonal in mm."""
    worst = per_image.copy()
    for metric in ("hd95_mm", "msd_mm"):
        infinite = np.isinf(worst[metric].to_numpy(float))
        worst.loc[infinite, metric] = worst.loc[infinite, "diagonal_mm"]
    return worst


def postprocess_effect(raw: pd.DataFrame, processed: pd.DataFrame) -> pd.DataFrame:
    """Per hospital (and "all") and class: DSC and HD95 before and after post-processing.

    An image counts as changed when its pixel counts or status differ: post-processing only
    deletes pixels, so an unchanged count means an unchanged mask.
    """
    keys = ["case_id", "class"]
    both = raw[[*keys, "hospital", "status", "dsc", "hd95_mm", "n_pred_px"]].merge(
        processed[[*keys, "status", "dsc", "hd95_mm", "n_pred_px"]], on=keys, suffixes=("_before", "_after"),
        validate="one_to_one")
    if len(both) != len(processed) or len(both) != len(raw):
        raise ValueError("raw and post-processed predictions cover different cases")
    both = both[(both["status_before"] != "both_empty") | (both["status_after"] != "both_empty")]
    rows = []
    for block in (both.assign(hospital="all"), both):
        for (hospital, name), group in block.groupby(["hospital", "class"], sort=False):
            row = {"hospital": hospital, "class": name, "n_images": len(group),
                   "n_changed": int((group["n_pred_px_before"] != group["n_pred_px_after"]).sum())}
            for metric in ("dsc", "hd95_mm"):
                for when in ("before", "after"):
                    values = group[f"{metric}_{when}"].to_numpy(float)
                    if metric == "hd95_mm":
                        row[f"n_valid_{when}"] = int(np.isfinite(values).sum())
                    row[f"{metric}_mean_{when}"] = _describe(metric, values)[f"{metric}_mean"]
            rows.append(row)
    table = pd.DataFrame(rows)
    table["block"] = (table["hospital"] != "all").astype(int)
    return _sort(table, ["block", "hospital"], TABLE_CLASSES).drop(columns="block")


def patient_table(per_image: pd.DataFrame) -> pd.DataFrame:
    """Mean of each patient's images per class, with the image counts by status.

    Means skip NaN (both_empty images) and keep +inf, so one missed image makes the patient's
    HD95/MSD infinite: a patient-level miss stays visible.
    """
    counts = [f"n_{status}" for status in STATUSES]
    flagged = per_image.assign(**{f"n_{status}": per_image["status"].eq(status) for status in STATUSES})
    grouped = flagged.groupby([*PATIENT_KEYS, "class"], sort=False, dropna=False)
    table = grouped[counts].sum().astype(int).join(grouped[[*METRICS, *DIRECTED]].mean())
    table.insert(0, "n_images", grouped.size())
    table = table.reset_index()
    clashes = table.loc[table.duplicated(["patient_id", "class"]), "patient_id"].unique()
    if len(clashes):
        raise ValueError(f"patient(s) with inconsistent hospital/GA/BW over their images: {', '.join(clashes[:3])}")
    return _sort(table, ["patient_id"], list(CLASSES))


def summarise(units: pd.DataFrame, by: list[str], unit: str) -> pd.DataFrame:
    """Table 3 columns per class (and per `by` group): counts, then mean, SD, CI of each metric.

    `units` has one row per unit (image or patient) and class, with the metric columns and the
    boolean columns missed, spurious, both_empty; `unit` names the count column (n_images or
    n_patients).
    """
    columns = [*by, "class", f"n_{unit}", *(["n_patients"] if by else []), "n_valid"]
    columns += [f"n_{flag}" for flag in ("missed", "spurious", "both_empty")]
    columns += [f"{metric}_{part}" for metric in METRICS for part in ("mean", "sd", "ci_low", "ci_high")]
    rows = []
    for key, group in units.groupby([*by, "class"], sort=False, dropna=False):
        row = dict(zip([*by, "class"], key))
        row[f"n_{unit}"] = len(group)
        if by:
            row["n_patients"] = group["patient_id"].nunique()
        row["n_valid"] = int(np.isfinite(group["hd95_mm"].to_numpy(float)).sum())
        for flag in ("missed", "spurious", "both_empty"):
            row[f"n_{flag}"] = int(group[flag].sum())
        for metric in METRICS:
            row.update(_describe(metric, group[metric].to_numpy(float)))
        rows.append(row)
    return _sort(pd.DataFrame(rows, columns=columns), by, TABLE_CLASSES)


def hard_film_table(images: pd.DataFrame) -> pd.DataFrame:
    """The summarise columns per hard-film flag (`flag`) for its flagged images and the rest
    (`films`): the hard slices reported on separately. Only flags with at least one flagged image
    get rows, so a cohort without flags (real sheets) gives an empty table, not a crash."""
    parts = [_flagged_vs_rest(images, flag) for flag in FLAG_COLUMNS if images[flag].eq(1).any()]
    long = pd.concat(parts, ignore_index=True) if parts else images.iloc[:0].assign(flag="", films="")
    return summarise(long, ["flag", "films"], "images")


def _flagged_vs_rest(images: pd.DataFrame, flag: str) -> pd.DataFrame:
    """The images whose `flag` is known, labelled with the flag and their group in FILMS."""
    known = images[images[flag].notna()]
    return known.assign(flag=flag, films=known[flag].map(FILMS))


def cutoff_table(per_image: pd.DataFrame) -> pd.DataFrame:
    """Paper Table 4: share of images with DSC >= each cutoff, overall ("all") and per hospital."""
    scored = per_image[per_image["status"] != "both_empty"]
    rows = []
    for block in (scored.assign(hospital="all"), scored):
        for (hospital, name), group in block.groupby(["hospital", "class"], sort=False):
            dsc = group["dsc"].to_numpy(float)
            row = {"hospital": hospital, "class": name, "n_images": len(dsc)}
            row.update({f"dsc_ge_{cut:.2f}": float(np.mean(dsc >= cut)) for cut in DSC_CUTOFFS})
            rows.append(row)
    columns = ["hospital", "class", "n_images", *(f"dsc_ge_{cut:.2f}" for cut in DSC_CUTOFFS)]
    table = pd.DataFrame(rows, columns=columns)
    table["block"] = (table["hospital"] != "all").astype(int)
    return _sort(table, ["block", "hospital"], TABLE_CLASSES).drop(columns="block")


def hash_folder(path: Path) -> str:
    """sha256 over the sorted (relative name, bytes) of every file under `path`.

    Hidden files and folders (leftovers of interrupted atomic writes) are skipped, so the hash
    names exactly the files a reader of the folder would use.
    """
    path = Path(path)
    files = [
        p
        for p in path.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    ]
    return hash_files(files, path)


def _label_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise ValueError(f"not a folder: {folder}")
    return {
        p.name.removesuffix(".nii.gz"): p for p in folder.glob("*.nii.gz") if not p.name.startswith(".")
    }


def _ids_metadata(case_ids: list[str]) -> pd.DataFrame:
    meta = pd.DataFrame(
        {
            "case_id": case_ids,
            "patient_id": case_ids,
            "hospital": [c.split("_", 1)[0] for c in case_ids],
            "ga_group": UNKNOWN_GROUP,
            "bw_group": UNKNOWN_GROUP,
        },
        columns=ID_COLUMNS,
    )
    return meta.join(_hard_flags(meta))


def _table_metadata(cases: pd.DataFrame) -> pd.DataFrame:
    lacking = sorted(set(ID_COLUMNS) - set(cases.columns))
    if lacking:
        raise ValueError(f"case table lacks columns {lacking}")
    cases = cases.reset_index(drop=True)  # ids and flags join by row, whatever index the caller's table has
    meta = cases[ID_COLUMNS].copy()
    meta[["ga_group", "bw_group"]] = meta[["ga_group", "bw_group"]].fillna(UNKNOWN_GROUP)
    meta = meta.astype(str)
    doubled = meta.loc[meta["case_id"].duplicated(), "case_id"].unique()
    if len(doubled):
        raise ValueError(f"case table lists case(s) twice: {', '.join(doubled[:3])}")
    return meta.join(_hard_flags(cases))


def _hard_flags(table: pd.DataFrame) -> pd.DataFrame:
    """FLAG_COLUMNS of `table` as 0/1, NA where it lacks a flag (a real clinical sheet, or no
    case table at all); any other value is refused, as it would count a film in neither group."""
    flags = table.reindex(columns=list(FLAG_COLUMNS))
    bad = [flag for flag in FLAG_COLUMNS if not flags[flag].dropna().isin([0, 1]).all()]
    if bad:
        raise ValueError(f"case table: {', '.join(bad)} not 0/1")
    return flags.astype("Int64")


def _check_same_grid(
    case_id: str,
    pred_shape: tuple[int, ...],
    truth_shape: tuple[int, ...],
    pred_spacing: tuple[float, float],
    truth_spacing: tuple[float, float],
) -> None:
    """Refuse to score a prediction on another grid: its numbers would be silently wrong."""
    if pred_shape != truth_shape:
        raise ValueError(f"{case_id}: prediction shape {pred_shape} differs from ground truth {truth_shape}")
    if not all(math.isclose(p, t, rel_tol=1e-6) for p, t in zip(pred_spacing, truth_spacing)):
        raise ValueError(f"{case_id}: prediction spacing {pred_spacing} differs from ground truth {truth_spacing}")


def _image_units(per_image: pd.DataFrame) -> pd.DataFrame:
    flags = {flag: per_image["status"].eq(flag) for flag in ("missed", "spurious", "both_empty")}
    return per_image.assign(**flags)


def _patient_units(per_patient: pd.DataFrame) -> pd.DataFrame:
    """A patient counts as missed/spurious if any image is, as both_empty if all images are."""
    return per_patient.assign(
        missed=per_patient["n_missed"] > 0,
        spurious=per_patient["n_spurious"] > 0,
        both_empty=per_patient["n_both_empty"] == per_patient["n_images"],
    )


def _describe(metric: str, values: np.ndarray) -> dict[str, float]:
    finite = values[np.isfinite(values)]
    n = finite.size
    mean = float(finite.mean()) if n else math.nan
    sd = float(finite.std(ddof=1)) if n > 1 else math.nan
    low, high = confidence_interval(mean, sd, n)
    return {f"{metric}_mean": mean, f"{metric}_sd": sd, f"{metric}_ci_low": low, f"{metric}_ci_high": high}


def _sort(frame: pd.DataFrame, columns: list[str], class_order: list[str]) -> pd.DataFrame:
    """Rows by `columns`, then class in `class_order`: the one row order every rerun gets."""
    rank = {name: i for i, name in enumerate(class_order)}
    ordered = frame.assign(_class_rank=frame["class"].map(rank)).sort_values([*columns, "_class_rank"], kind="stable")
    return ordered.drop(columns="_class_rank").reset_index(drop=True)


def _write_markdown(path: Path, frame: pd.DataFrame, title: str, header: dict[str, str]) -> Path:
    """Human-readable twin: 4 decimals, metric quadruples as 'mean ± SD' and 'low–high'."""
    shown = frame.copy()
    for metric, label in METRIC_LABELS.items():
        if f"{metric}_mean" in shown:
            mean, sd, low, high = (shown.pop(f"{metric}_{part}") for part in ("mean", "sd", "ci_low", "ci_high"))
            shown[f"{label} mean ± SD"] = [f"{_fmt(m)} ± {_fmt(s)}" for m, s in zip(mean, sd)]
            shown[f"{label} 95% CI"] = [f"{_fmt(lo)}–{_fmt(hi)}" for lo, hi in zip(low, high)]
    lines = [f"# {title}", "", *(f"- {key}: {value}" for key, value in header.items()), ""]
    write_text(path, "\n".join(lines) + "\n" + markdown_table(shown))
    return path


def _fmt(value: object) -> str:
    if isinstance(value, (float, np.floating)):
        return "NA" if math.isnan(value) else f"{value:.4f}"
    return str(value)
