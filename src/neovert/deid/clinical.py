"""What research keeps from a patient: the clinical sheet's groups and the age at exam.

GA and birth weight come from the hospital's clinical sheet and leave the stage only as the
paper's groups. Postnatal age is computed from the header before the birth date is removed (no
Annex E option keeps a birth date) and cross-checked with Patient's Age. The optional hard-film
flags (`neovert.FLAG_COLUMNS`) describe the film, not the infant, and pass through as 0/1. The
optional family key (`FAMILY_COLUMN`, e.g. the mother's record number: twins share it, and the
split keeps a family in one set) is PHI and leaves only as a keyed pseudonym. Every other column
of the sheet is dropped on reading.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
from pydicom.dataset import Dataset

from neovert import FLAG_COLUMNS

# image_file: path of the DICOM file relative to the delivery's DICOM folder
CLINICAL_COLUMNS = ("patient_key", "image_file", "ga_weeks", "bw_grams", "sex", "tube")
FAMILY_COLUMN = "family_id"  # optional; blank for a patient with no known family key
AGE_UNIT_DAYS = {"D": 1, "W": 7, "M": 30.4375, "Y": 365.25}


def ga_group(weeks: float) -> str:
    """Paper's GA groups: GA01 <28 wk, GA02 28-32 wk, GA03 >=33 wk."""
    return "GA01" if weeks < 28 else "GA02" if weeks < 33 else "GA03"


def bw_group(grams: float) -> str:
    """Paper's BW groups: BW01 <1000 g, BW02 1000-1500 g, BW03 >=1500 g."""
    return "BW01" if grams < 1000 else "BW02" if grams < 1500 else "BW03"


def read_clinical(path: Path) -> dict[str, dict]:
    """Rows of the clinical sheet by image_file, holding only CLINICAL_COLUMNS and the family and
    flag columns the sheet has (nothing else can leak on); a malformed sheet stops the stage
    (message names the file and the problem, never a value)."""
    sheet = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in CLINICAL_COLUMNS if c not in sheet.columns]
    if missing:
        raise ValueError(f"{path}: clinical sheet lacks columns {missing}")
    if sheet.image_file.duplicated().any():
        raise ValueError(f"{path}: {int(sheet.image_file.duplicated().sum())} image_file values listed twice")
    kept = [*CLINICAL_COLUMNS, *(c for c in (FAMILY_COLUMN, *FLAG_COLUMNS) if c in sheet.columns)]
    return {row["image_file"]: row for row in sheet[kept].to_dict("records")}


def hard_flags(row: dict) -> dict[str, int | None]:
    """The row's hard-film flags: 0/1 where the sheet has the column, None where it has not (a
    real hospital's sheet). Anything else, blank included, raises ValueError naming the column:
    a flag that cannot be read must not count the film as easy."""
    flags: dict[str, int | None] = {}
    for column in FLAG_COLUMNS:
        value = row.get(column)
        if value is not None and value.strip() not in ("0", "1"):
            raise ValueError(f"{column} is not 0 or 1")
        flags[column] = None if value is None else int(value)
    return flags


def _parse(date: str, time: str = "") -> tuple[dt.datetime, bool] | None:
    """A DICOM date (+ optional time) as a datetime, and whether the time was known."""
    date, time = str(date or "").strip(), re.sub(r"[^0-9.]", "", str(time or ""))
    try:
        day = dt.datetime.strptime(date[:8], "%Y%m%d")
    except ValueError:
        return None
    if len(time) >= 4:
        return day + dt.timedelta(hours=int(time[:2]), minutes=int(time[2:4])), True
    return day, False


def _exam_time(source: Dataset) -> tuple[dt.datetime, bool] | None:
    stamp = str(source.get("AcquisitionDateTime", "") or "")
    candidates = [(stamp[:8], stamp[8:14])] if stamp else []
    candidates += [(source.get(f"{part}Date", ""), source.get(f"{part}Time", ""))
                   for part in ("Acquisition", "Content", "Study", "Series")]
    for date, time in candidates:
        parsed = _parse(date, time)
        if parsed:
            return parsed
    return None


def age_at_exam(source: Dataset) -> dict:
    """age_days (and age_hours when birth and exam times exist), and how it agrees with Patient's
    Age: ok, mismatch, no_patient_age, or no_dates / birth_after_exam when it cannot be computed."""
    born, taken = _parse(source.get("PatientBirthDate", ""), source.get("PatientBirthTime", "")), _exam_time(source)
    if not born or not taken:
        return {"age_days": None, "age_hours": None, "age_check": "no_dates"}
    delta = taken[0] - born[0]
    if delta.total_seconds() < 0:
        return {"age_days": None, "age_hours": None, "age_check": "birth_after_exam"}
    days = (taken[0].date() - born[0].date()).days
    hours = int(delta.total_seconds() // 3600) if born[1] and taken[1] else None
    return {"age_days": days, "age_hours": hours, "age_check": _check(days, str(source.get("PatientAge", "")))}


def _check(days: int, patient_age: str) -> str:
    match = re.fullmatch(r"(\d{3})([DWMY])", patient_age.strip())
    if not match:
        return "no_patient_age"
    unit = AGE_UNIT_DAYS[match.group(2)]
    # Patient's Age is truncated to whole units: the computed age must fall in that unit (±1 day)
    low, high = int(match.group(1)) * unit - 1, (int(match.group(1)) + 1) * unit + 1
    return "ok" if low <= days <= high else "mismatch"
