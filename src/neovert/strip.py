"""Metadata stripping: de-identified DICOM -> a NIfTI holding only pixels and spacing.

The NIfTI is built from the bare pixel array (never from SimpleITK's DICOM reader, which copies
every tag into the output header). Presentation is normalised so that bone is bright in every
file: MONOCHROME1 is inverted on its stored range, then Rescale Slope/Intercept applied. The
manifest records what was applied and where the spacing came from; a file without usable
spacing is quarantined, never given a silent 1.0, unless its site declared its detector pitch
(old CR readers write no spacing at all): then that declared value is used and recorded as such.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom

from neovert import FLAG_COLUMNS
from neovert.io import read_tsv, write_image, write_tsv
from neovert.parallel import pool_map

STAGE_VERSION = "5"  # 5: site-declared spacing for files that carry none; family_id for the split
log = logging.getLogger(__name__)

MANIFEST_COLUMNS = [
    "case_id", "hospital", "patient_id", "family_id", "ga_group", "bw_group", "sex", "tube", *FLAG_COLUMNS, "age_days", "view",
    "rows", "cols", "spacing_row_mm", "spacing_col_mm", "spacing_source", "photometric", "inverted",
    "rescale_slope", "rescale_intercept",
]


class NoSpacing(ValueError):
    """Neither Pixel Spacing nor Imager Pixel Spacing holds two positive numbers."""


def spacing_of(dataset: pydicom.Dataset, declared_mm: float | None = None) -> tuple[tuple[float, float], str]:
    """(row, col) spacing in mm and its source.

    Pixel Spacing (calibrated, in the patient plane) wins; otherwise Imager Pixel Spacing
    (detector plane) divided by the Estimated Radiographic Magnification Factor when present;
    otherwise the pitch the site declared for its reader (`declared_mm`, from the configuration:
    a fact about the equipment that the data engineer vouches for, never a default).
    """
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        values = [float(v) for v in dataset.get(keyword) or []]
        if len(values) == 2 and min(values) > 0:
            if keyword == "PixelSpacing":
                return (values[0], values[1]), keyword
            factor = float(dataset.get("EstimatedRadiographicMagnificationFactor") or 0)
            if factor > 0:
                return (values[0] / factor, values[1] / factor), "ImagerPixelSpacing/ERMF"
            return (values[0], values[1]), keyword
    if declared_mm is not None:
        return (declared_mm, declared_mm), "site_declared"
    raise NoSpacing("no usable PixelSpacing or ImagerPixelSpacing, and no spacing declared for the site")


def presentation_pixels(dataset: pydicom.Dataset) -> tuple[np.ndarray, dict]:
    """Pixels with bone bright, plus what was applied to get there. Integer results are stored
    in the smallest integer type that holds them exactly (half the bytes of float32, and half
    the gzip time); a fractional rescale gives float32 unless every value comes out whole. VOI
    windows are not applied: they are display settings, and nnU-Net normalises intensities itself."""
    photometric = str(dataset.PhotometricInterpretation)
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ValueError(f"unsupported photometric interpretation {photometric}")
    inverted = photometric == "MONOCHROME1"
    slope = float(dataset.get("RescaleSlope", 1) or 1)
    intercept = float(dataset.get("RescaleIntercept", 0) or 0)
    applied = {"photometric": photometric, "inverted": int(inverted),
               "rescale_slope": slope, "rescale_intercept": intercept}
    # whole slope and intercept (the rule for CR and DX) keep integer arithmetic, exact and
    # three times faster than going through float64 and checking that nothing was fractional
    whole = slope.is_integer() and intercept.is_integer()
    values = dataset.pixel_array.astype(np.int64 if whole else np.float64)
    if inverted:
        values = (2 ** int(dataset.BitsStored) - 1) - values
    values = values * (int(slope) if whole else slope) + (int(intercept) if whole else intercept)
    return values.astype(_exact_type(values, whole)), applied


def _exact_type(values: np.ndarray, whole: bool) -> type:
    if values.size and (whole or np.array_equal(values, np.round(values))):
        low, high = values.min(), values.max()
        for kind in (np.uint8, np.uint16, np.int16, np.int32):
            if np.iinfo(kind).min <= low and high <= np.iinfo(kind).max:
                return kind
    return np.float32


def strip_hospital(deid_dir: Path, out_dir: Path, workers: int = 1, compress: bool = True,
                   declared_spacing_mm: float | None = None) -> dict[str, int]:
    """Convert every case in deid_dir/cases.tsv to out_dir/images/<case>.nii.gz + manifest.tsv
    (`.nii` without `compress`: four times faster to write, for sites that compress in transit).
    `declared_spacing_mm` is used only for files that carry no spacing (`spacing_of`)."""
    if declared_spacing_mm is not None and not (0 < declared_spacing_mm < 10):
        raise ValueError(f"declared spacing must be a pixel pitch in mm (0-10), got {declared_spacing_mm}")
    deid_dir, out_dir = Path(deid_dir), Path(out_dir)
    cases = read_tsv(deid_dir / "cases.tsv").to_dict("records")
    shutil.rmtree(out_dir / "images", ignore_errors=True)  # no image of a case that is gone now
    suffix = ".nii.gz" if compress else ".nii"
    tasks = [(case, deid_dir / "dicom" / f"{case['case_id']}.dcm", out_dir / "images" / f"{case['case_id']}{suffix}",
              declared_spacing_mm) for case in cases]
    results = list(pool_map(_strip_case, tasks, workers))
    rows = [r for r in results if "reason" not in r]
    quarantine = [r for r in results if "reason" in r]
    # spacing feeds rasterize and nnU-Net: written to round-trip exactly (ImagerPixelSpacing / ERMF is no short decimal)
    write_tsv(pd.DataFrame(rows, columns=MANIFEST_COLUMNS), out_dir / "manifest.tsv", float_format="%.17g")
    write_tsv(pd.DataFrame(quarantine, columns=["case_id", "reason", "detail"]), out_dir / "quarantine.tsv")
    log.info("%d converted, %d quarantined", len(rows), len(quarantine))
    return {"converted": len(rows), "quarantined": len(quarantine)}


def _strip_case(task: tuple[dict, Path, Path, float | None]) -> dict:
    """One case: its manifest row, or a quarantine row (one bad file must not stop the hospital)."""
    case, source, target, declared_mm = task
    try:
        dataset = pydicom.dcmread(source)
        spacing, spacing_source = spacing_of(dataset, declared_mm)
        pixels, applied = presentation_pixels(dataset)
    except Exception as error:
        reason = "no_usable_spacing" if isinstance(error, NoSpacing) else "unconvertible"
        log.warning("%s quarantined: %s (%s)", case["case_id"], reason, type(error).__name__)
        return {"case_id": case["case_id"], "reason": reason, "detail": type(error).__name__}
    write_image(target, pixels, spacing)
    return {**case, "rows": pixels.shape[0], "cols": pixels.shape[1], "spacing_row_mm": spacing[0],
            "spacing_col_mm": spacing[1], "spacing_source": spacing_source, **applied}
