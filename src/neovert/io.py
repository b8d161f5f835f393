"""File helpers shared by the stages: atomic writes, label/image files, deterministic tables.

Every stage writes through these so that a killed job never leaves a half-written file behind
(temp file in the same folder, then os.replace) and so that reruns give byte-identical outputs.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path` (same suffixes, so writers pick the right format);
    rename it onto `path` only if the block finishes without an exception."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffixes = "".join(path.suffixes)
    tmp = path.with_name(f".{path.name.removesuffix(suffixes)}.tmp{os.getpid()}{suffixes}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, obj: object) -> None:
    """Sorted keys and a trailing newline: the same object always gives the same bytes."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_tsv(frame: pd.DataFrame, path: Path, float_format: str = "%.6f", na_rep: str = "",
              header: dict[str, str] | None = None) -> None:
    """Tab-separated, no index, fixed float format: stable bytes across reruns. Intermediate
    tables that feed later arithmetic use "%.17g", which round-trips a float exactly. `header`
    becomes leading "# key: value" lines (provenance), which `read_tsv` skips."""
    comments = "".join(f"# {key}: {value}\n" for key, value in (header or {}).items())
    body = frame.to_csv(sep="\t", index=False, float_format=float_format, na_rep=na_rep, lineterminator="\n")
    write_text(path, comments + body)


def read_tsv(path: Path) -> pd.DataFrame:
    """A table `write_tsv` wrote, `#` header lines skipped, ids read as text (never as numbers)."""
    return pd.read_csv(path, sep="\t", comment="#", dtype={"case_id": str, "patient_id": str, "family_id": str})


def write_image(path: Path, array: np.ndarray, spacing_rc: tuple[float, float]) -> None:
    """Write a 2D array as NIfTI (gzipped for `.nii.gz`) with (row, col) spacing in mm and nothing else.

    The image is built from the bare array, so no header text (DICOM tags, descriptions) can
    travel with it; SimpleITK takes spacing in (x, y) = (col, row) order.
    """
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((float(spacing_rc[1]), float(spacing_rc[0])))
    with atomic_path(path) as tmp:
        sitk.WriteImage(image, str(tmp), useCompression=Path(path).suffix == ".gz")


def read_image(path: Path) -> tuple[np.ndarray, tuple[float, float]]:
    """Return the pixel array and its (row, col) spacing in mm."""
    image = sitk.ReadImage(str(path))
    col, row = image.GetSpacing()[:2]
    return sitk.GetArrayFromImage(image), (row, col)


def case_id_of(path: Path) -> str:
    """Case id of a NIfTI file name (`H03_ab12cd34ef_01.nii.gz` -> `H03_ab12cd34ef_01`)."""
    return Path(path).name.removesuffix(".nii.gz")


def markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-style Markdown table; floats rounded to `digits`."""
    def cell(value: object) -> str:
        if isinstance(value, (float, np.floating)):
            return "NA" if np.isnan(value) else f"{value:.{digits}f}"
        return str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"
