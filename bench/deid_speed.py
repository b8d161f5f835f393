"""Throughput of `deid` + `strip` on full-size real radiographs, beside the anchors in one run.

Inputs are copies of pydicom-data's RG1 chest (1955 x 1841, 15-bit CR; uncompressed and JPEG 2000
lossless; given a 0.143 mm Pixel Spacing, since its own 0.000 would be quarantined) and deid-data's DX
chest (2614 x 3072), each copy with its own patient and SOP UIDs. The headline rate writes `.nii`
(the goal is stated for uncompressed output); the `.nii.gz` rate of the workflow is reported too.
Rates are files per second per core; the reference rates come from the same process on the same
files, so the ratios hold on a busy machine:

- dicognito: header-only de-identification (read, anonymize, write), the fastest anchor;
- raw decoder: pydicom + pylibjpeg decoding the JPEG 2000 files, the floor for that syntax;
- conversion floor: read, decode and write `.nii` with no de-identification at all, the most any
  de-identifier writing `.nii` could reach here; and that floor plus the least a search for
  burned-in text costs, one pass of `burned_in`'s (display window, local mean, connected shapes
  of one ink mask at full resolution) where the search makes four.

Writes benchmarks/deid_speed.json. Usage: python bench/deid_speed.py [--copies N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import pydicom
from pydicom.data import get_testdata_file

from neovert import burned_in
from neovert.deid import deid_folder
from neovert.deid.clinical import CLINICAL_COLUMNS
from neovert.io import write_image
from neovert.pseudonym import create_key, load_key
from neovert.strip import strip_hospital

SOURCES = {"uncompressed": [get_testdata_file("RG1_UNCR.dcm"),
                            str(Path(__import__("deid_data").__file__).parent / "data" / "animals" / "cat.dcm")],
           "jpeg2000": [get_testdata_file("RG1_J2KR.dcm")]}


def make_inputs(folder: Path, sources: list[str], copies: int) -> Path:
    """`copies` files per source, each a different patient; returns the clinical sheet."""
    rows = []
    for n in range(copies):
        for index, source in enumerate(sources):
            dataset = pydicom.dcmread(source)
            dataset.PatientID = f"BENCH{n:04d}{index}"
            dataset.PixelSpacing = dataset.get("PixelSpacing") if float(dataset.PixelSpacing[0]) else [0.143, 0.143]
            dataset.SOPInstanceUID = pydicom.uid.generate_uid(entropy_srcs=[f"bench-{n}-{index}-{source}"])
            name = f"{n:04d}_{index}.dcm"
            dataset.save_as(folder / "in" / name, enforce_file_format=True)
            rows.append([dataset.PatientID, name, "30", "1200", "F", "0"])
    sheet = folder / "clinical.csv"
    pd.DataFrame(rows, columns=CLINICAL_COLUMNS).to_csv(sheet, index=False)
    return sheet


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def dicognito_seconds(files: list[Path], out: Path) -> float:
    from dicognito.anonymizer import Anonymizer

    anonymizer = Anonymizer(seed="bench")

    def run():
        for path in files:
            dataset = pydicom.dcmread(path)
            anonymizer.anonymize(dataset)
            dataset.save_as(out / path.name)
    return timed(run)


def decoder_seconds(files: list[Path]) -> float:
    return timed(lambda: [pydicom.dcmread(path).pixel_array for path in files])


def floor_seconds(files: list[Path], out: Path, search: bool) -> float:
    def run():
        for path in files:
            dataset = pydicom.dcmread(path)
            pixels = dataset.pixel_array
            write_image(out / f"{path.stem}.nii", pixels, (0.143, 0.143))
            if search:
                gray = burned_in._display(pixels, dataset.PhotometricInterpretation == "MONOCHROME1")
                with burned_in._one_thread():  # as the stage runs it: one core
                    burned_in._boxes(gray > burned_in._local_mean(gray) + burned_in.LOCAL_CONTRAST, connectivity=4)
    return timed(run)


def measure(kind: str, copies: int, root: Path, key: bytes) -> dict:
    folder = root / kind
    (folder / "in").mkdir(parents=True)
    sheet = make_inputs(folder, SOURCES[kind], copies)
    files = sorted((folder / "in").iterdir())
    result = {"files": len(files)}
    for workers in (1, 2):
        out = folder / f"deid{workers}"
        result[f"deid_s_{workers}_workers"] = timed(lambda: deid_folder(
            folder / "in", out, key, sheet, root / "maps" / f"{kind}.tsv", "H00", workers=workers))
        result[f"strip_s_{workers}_workers"] = timed(lambda: strip_hospital(out, folder / f"strip{workers}",
                                                                            workers=workers, compress=False))
    (folder / "dicognito").mkdir()
    result["dicognito_s"] = dicognito_seconds(files, folder / "dicognito")
    result["decoder_s"] = decoder_seconds(files)
    (folder / "floor").mkdir()
    result["floor_s"] = floor_seconds(files, folder / "floor", search=False)
    result["floor_one_labelling_s"] = floor_seconds(files, folder / "floor", search=True)
    one = result["deid_s_1_workers"] + result["strip_s_1_workers"]
    result["nii_gz_strip_s_1_worker"] = timed(lambda: strip_hospital(folder / "deid1", folder / "gz"))
    result["files_per_s_per_core"] = len(files) / one
    result["files_per_s_per_core_nii_gz"] = len(files) / (result["deid_s_1_workers"] + result["nii_gz_strip_s_1_worker"])
    result["deid_only_files_per_s_per_core"] = len(files) / result["deid_s_1_workers"]
    result["dicognito_files_per_s"] = len(files) / result["dicognito_s"]
    result["decoder_files_per_s"] = len(files) / result["decoder_s"]
    result["floor_files_per_s"] = len(files) / result["floor_s"]
    result["floor_one_labelling_files_per_s"] = len(files) / result["floor_one_labelling_s"]
    result["ratio_to_dicognito"] = result["dicognito_s"] / one
    result["ratio_to_decoder"] = result["decoder_s"] / one
    result["speedup_2_workers"] = one / (result["deid_s_2_workers"] + result["strip_s_2_workers"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/deid_speed.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        key = load_key(create_key(root / "pseudonym.key"))
        results = {kind: measure(kind, args.copies, root, key) for kind in SOURCES}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps(results, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
