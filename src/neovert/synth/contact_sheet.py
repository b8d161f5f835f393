"""One image per hospital with its labels drawn, tiled into one PNG: the cohort at a glance.

The synthetic cohort stands in for private films, so a person has to be able to see that it
looks like neonatal chest radiographs and that the T1/T7/T12 quadrilaterals sit on the drawn
vertebrae. Each tile is shown the way a viewer shows the file (header VOI window, then
MONOCHROME1 inverted), so a wrong window or photometric in the header is visible too; the
polygons are read back from the LabelMe files, not recomputed. Deterministic: same cohort, same
PNG bytes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pydicom
from pydicom.pixels import apply_voi_lut

from neovert.io import atomic_path

# BGR; vertebrae in distinct colours so a swapped level is visible, lungs thin and quiet
COLOURS = {"T1": (60, 60, 255), "T7": (80, 220, 80), "T12": (255, 150, 40), "lung": (0, 215, 255)}
_CAPTION_PX = 34


def contact_sheet(cohort: Path, out: Path, *, tile_width: int = 300, columns: int = 4) -> Path:
    """Write `out` (PNG): the first image of every hospital folder under `cohort`, labels drawn,
    captioned with hospital, IOD, photometric, bits, spacing and GA. Returns `out`."""
    cohort = Path(cohort)
    hospitals = sorted(p for p in cohort.glob("H*") if (p / "dicom").is_dir())
    if not hospitals:
        raise FileNotFoundError(f"{cohort}: no hospital folders with dicom/ (is this a synth cohort?)")
    tile_height = round(tile_width * 1.3)
    tiles = [_tile(folder, tile_width, tile_height) for folder in hospitals]
    rows = -(-len(tiles) // columns)
    blank = np.zeros_like(tiles[0])
    tiles += [blank] * (rows * columns - len(tiles))
    sheet = np.vstack([np.hstack(tiles[r * columns : (r + 1) * columns]) for r in range(rows)])
    ok, png = cv2.imencode(".png", sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise RuntimeError(f"{out}: PNG encoding failed")
    out = Path(out)
    with atomic_path(out) as tmp:
        tmp.write_bytes(png.tobytes())
    return out


def displayed(ds: pydicom.Dataset) -> np.ndarray:
    """8-bit image as a viewer shows it: VOI window from the header, MONOCHROME1 inverted."""
    values = apply_voi_lut(ds.pixel_array, ds).astype(np.float64)
    lo, hi = float(values.min()), float(values.max())
    grey = (values - lo) / max(hi - lo, 1e-9)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        grey = 1 - grey
    return np.rint(255 * grey).astype(np.uint8)


def _tile(folder: Path, width: int, height: int) -> np.ndarray:
    dcm = sorted((folder / "dicom").glob("*.dcm"))[0]
    ds = pydicom.dcmread(dcm)
    image = displayed(ds)
    scale = min(width / image.shape[1], (height - _CAPTION_PX) / image.shape[0])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    top, left = _CAPTION_PX, (width - small.shape[1]) // 2
    canvas[top : top + small.shape[0], left : left + small.shape[1]] = small[..., None]
    annotation = json.loads((folder / "annotations" / f"{dcm.stem}.json").read_text())
    for shape in annotation["shapes"]:
        points = np.asarray(shape["points"], dtype=float) * scale + (left, top)
        thickness = 1 if shape["label"] == "lung" else 2
        cv2.polylines(canvas, [np.rint(points * 4).astype(np.int32)], True, COLOURS.get(shape["label"], (255, 0, 255)),
                      thickness, cv2.LINE_AA, shift=2)
    _caption(canvas, folder, dcm, ds)
    return canvas


def _caption(canvas: np.ndarray, folder: Path, dcm: Path, ds: pydicom.Dataset) -> None:
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    lines = (
        f"{folder.name} {ds.Modality} {str(ds.PhotometricInterpretation)[-1:]} {ds.BitsStored}b "
        f"{f'{float(spacing[0]):.3f}mm' if spacing else 'no spacing'}",
        f"{ds.Columns}x{ds.Rows} GA {_ga_weeks(folder, dcm.name)} wk",
    )
    for k, text in enumerate(lines):
        cv2.putText(canvas, text, (4, 14 + 15 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)


def _ga_weeks(folder: Path, image_file: str) -> str:
    with (folder / "clinical.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["image_file"] == image_file:
                return row["ga_weeks"]
    return "?"
