"""The field's own files through deid and strip: pydicom's test and charset files, pydicom-data
(full-size CR chests RG1/RG3 in every transfer syntax) and deid-data (a real DX chest, US, CT,
cine zips). Every file must end in exactly one state, the real radiographs must convert with
bit-exact pixels, and none of their identifying header values may reach an output byte."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from pydicom.multival import MultiValue

from neovert.deid import REASONS, deid_folder
from neovert.pseudonym import Pseudonymizer
from neovert.strip import strip_hospital

CORPORA = {
    "pydicom": Path(pydicom.__file__).parent / "data",
    "pydicom_data": Path(pydicom.data.get_testdata_file("RG1_UNCR.dcm")).parent,
    "deid_data": Path(__import__("deid_data").__file__).parent / "data",
}
RADIOGRAPHS = ["RG1_UNCR.dcm", "RG1_UNCI.dcm", "RG1_J2KR.dcm", "RG1_J2KI.dcm",
               "RG3_UNCR.dcm", "RG3_UNCI.dcm", "RG3_J2KR.dcm", "RG3_J2KI.dcm", "cat.dcm"]
IDENTIFYING = ("PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "InstitutionAddress",
               "StationName", "DeviceSerialNumber", "AccessionNumber", "ReferringPhysicianName",
               "OperatorsName", "PerformingPhysicianName", "OtherPatientIDs")
# English words of these headers that our own outputs use too (column names, audit keys, the
# manufacturer "Philips Medical Systems" kept under its own attribute)
GENERIC = {"HOSPITAL", "MEDICAL", "SYSTEMS", "PHILIPS", "STATE", "NUMBER"}


def _corpus_files() -> dict[str, Path]:
    files = {}
    for name, root in CORPORA.items():
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts:
                files[f"{name}/{path.relative_to(root).as_posix()}"] = path
    return files


def _patient_key(path: Path) -> str | None:
    try:
        return str(pydicom.dcmread(path, stop_before_pixels=True).get("PatientID", "")).strip() or None
    except Exception:
        return None


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Every corpus file linked into one delivery with a clinical row where it has a Patient ID."""
    from neovert.pseudonym import create_key, load_key

    root = tmp_path_factory.mktemp("corpora")
    files = _corpus_files()
    for rel, path in files.items():
        (root / "in" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "in" / rel).symlink_to(path)
    rows = [{"patient_key": key, "image_file": rel, "ga_weeks": "30", "bw_grams": "1200", "sex": "", "tube": "0"}
            for rel, path in files.items() if (key := _patient_key(path))]
    pd.DataFrame(rows).to_csv(root / "clinical.csv", index=False)
    key = load_key(create_key(root / "secrets" / "pseudonym.key"))
    counts = deid_folder(root / "in", root / "deid", key, root / "clinical.csv", root / "secrets" / "map.tsv",
                         "H00", workers=2)
    strip_counts = strip_hospital(root / "deid", root / "strip", workers=2)
    return {"root": root, "files": files, "key": key, "counts": counts, "strip_counts": strip_counts}


def test_every_file_ends_in_exactly_one_state(run):
    files, root = run["files"], run["root"]
    assert len(files) > 250
    audit = [json.loads(line) for line in (root / "deid" / "audit.jsonl").read_text().splitlines()]
    ref = Pseudonymizer(run["key"]).reference
    assert sorted(a["source_ref"] for a in audit) == sorted(ref(rel) for rel in files)
    assert run["counts"]["converted"] + run["counts"]["quarantined"] == len(files)
    reasons = pd.read_csv(root / "deid" / "quarantine.tsv", sep="\t").reason
    assert set(reasons) <= set(REASONS)
    # the corpus's known cases land on the codes named for them
    by_ref = {a["source_ref"]: a for a in audit}
    expect = {"pydicom/test_files/MR_small.dcm": "not_a_radiograph",
              "pydicom/test_files/rtplan_truncated.dcm": "not_a_radiograph",
              "deid_data/ultrasounds/GREYSCALE_CINE.zip": "not_dicom",
              "pydicom/test_files/dicomdirtests/DICOMDIR": "not_a_radiograph"}
    for rel, reason in expect.items():
        assert by_ref[ref(rel)].get("reason") == reason, rel


def test_real_radiographs_convert_bit_exactly(run):
    root, ref = run["root"], Pseudonymizer(run["key"]).reference
    audit = {a["source_ref"]: a for a in map(json.loads, (root / "deid" / "audit.jsonl").read_text().splitlines())}
    converted = {rel: audit[ref(rel)] for rel in run["files"] if audit[ref(rel)]["state"] == "converted"}
    names = {Path(rel).name for rel in converted}
    assert {"RG1_UNCR.dcm", "RG3_UNCR.dcm", "6154", "6247", "6278"} <= names
    for name in set(RADIOGRAPHS) - names - {"cat.dcm"}:  # RG1/RG3 variants share SOP UIDs: first file wins
        assert audit[ref(f"pydicom_data/{name}")]["reason"] == "duplicate_sop_instance", name
    out = {Path(rel).name: pydicom.dcmread(root / "deid" / "dicom" / f"{a['case_id']}.dcm")
           for rel, a in converted.items()}
    for series in ("RG1", "RG3"):
        reference = pydicom.dcmread(run["files"][f"pydicom_data/{series}_UNCR.dcm"]).pixel_array
        lossless = [f"{series}_{syntax}.dcm" for syntax in ("UNCR", "UNCI", "J2KR")]
        assert any(name in out for name in lossless[1:])  # a compressed one is among them
        for name in set(lossless) & set(out):
            assert np.array_equal(out[name].pixel_array, reference), name
    for dataset in out.values():
        assert dataset.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert dataset.PatientIdentityRemoved == "YES" and not any(e.tag.is_private for e in dataset)
        assert {item.CodeValue for item in dataset.DeidentificationMethodCodeSequence} >= {"113100", "113107"}


def test_the_real_dx_chest_converts(run):
    root, ref = run["root"], Pseudonymizer(run["key"]).reference
    audit = {a["source_ref"]: a for a in map(json.loads, (root / "deid" / "audit.jsonl").read_text().splitlines())}
    record = audit[ref("deid_data/animals/cat.dcm")]
    assert record["state"] == "converted", record.get("reason")
    dataset = pydicom.dcmread(root / "deid" / "dicom" / f"{record['case_id']}.dcm")
    assert dataset.ViewPosition and dataset.PatientSex  # utility kept


def test_no_identifying_header_value_reaches_an_output_byte(run):
    tokens = set()
    for rel in run["files"]:
        if Path(rel).name in RADIOGRAPHS or rel.startswith("pydicom/test_files/dicomdirtests/77654033/CR"):
            source = pydicom.dcmread(run["files"][rel], stop_before_pixels=True)
            for keyword in IDENTIFYING:
                value = source.get(keyword, "")
                for item in value if isinstance(value, MultiValue) else [value]:
                    # name components and words; short or numeric-only strings would match by chance
                    for word in re.findall(r"[^\W_]+", str(item)):
                        if len(word) >= 5 and not (word.isdigit() and len(word) < 8) and word.upper() not in GENERIC:
                            tokens.add(word.upper())
    assert len(tokens) > 15
    outputs = [p for p in (run["root"] / "deid").rglob("*") if p.is_file()]
    outputs += [p for p in (run["root"] / "strip").rglob("*") if p.is_file()]
    for path in outputs:
        data = path.read_bytes()
        data = (gzip.decompress(data) if path.suffix == ".gz" else data).upper()
        name = path.relative_to(run["root"]).as_posix().upper()
        for token in tokens:
            assert token.encode() not in data and token not in name, (path.name, token)


def test_strip_records_spacing_source_and_refuses_unknown_spacing(run):
    root = run["root"]
    manifest = pd.read_csv(root / "strip" / "manifest.tsv", sep="\t")
    quarantine = pd.read_csv(root / "strip" / "quarantine.tsv", sep="\t")
    assert len(manifest) + len(quarantine) == run["counts"]["converted"]
    # RG1 says PixelSpacing 0.000\0.000 and RG3 has none: quarantined, never a silent 1.0 or 0
    assert list(quarantine.reason) == ["no_usable_spacing"] * 6  # the six RG1/RG3 files deid converted
    assert sorted(zip(manifest.spacing_source, manifest.spacing_row_mm.round(3)))[:3] == [
        ("ImagerPixelSpacing", 0.1)] * 3  # pydicom's Agfa CRs
    assert set(manifest.spacing_source) <= {"PixelSpacing", "ImagerPixelSpacing", "ImagerPixelSpacing/ERMF"}
    assert (manifest.spacing_row_mm > 0).all() and not (manifest.spacing_row_mm == 1.0).any()
