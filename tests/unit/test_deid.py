import json
import shutil

import pandas as pd
import pydicom
import pytest

from neovert import FLAG_COLUMNS
from neovert.deid import bw_group, deid_hospital, ga_group
from neovert.pseudonym import Pseudonymizer

from ..conftest import korean_cr

SHAPES = {"shapes": [{"label": "T1", "points": [[1, 1], [5, 1], [5, 4], [1, 4]], "shape_type": "polygon"}],
          "imagePath": "../dicom/secret-name.dcm", "imageHeight": 32, "imageWidth": 32}


@pytest.fixture
def delivery(tmp_path):
    """A hospital delivery made of the real Korean CR file: two exams of one patient, one
    damaged file, one file nobody listed in the clinical sheet."""
    root = tmp_path / "H05"
    (root / "dicom").mkdir(parents=True)
    (root / "annotations").mkdir()
    first = korean_cr()
    first.PatientBirthDate = "20080420"
    first.save_as(root / "dicom" / "a.dcm")
    second = korean_cr()
    second.SOPInstanceUID = second.SOPInstanceUID + ".2"
    second.StudyDate = second.AcquisitionDate = "20080511"
    second.PatientBirthDate = "20080420"
    second.save_as(root / "dicom" / "b.dcm")
    (root / "dicom" / "broken.dcm").write_bytes(b"not a dicom file")
    shutil.copy(root / "dicom" / "a.dcm", root / "dicom" / "unlisted.dcm")
    for stem in ("a", "b", "broken"):
        (root / "annotations" / f"{stem}.json").write_text(json.dumps(SHAPES))
    pd.DataFrame({
        "patient_key": ["2008-3", "2008-3", "2008-3"],
        "image_file": ["a.dcm", "b.dcm", "broken.dcm"],
        "ga_weeks": ["27.5", "27.5", "27.5"], "bw_grams": ["980", "980", "980"],
        "sex": ["M", "M", "M"], "tube": ["1", "1", "1"],
    }).to_csv(root / "clinical.csv", index=False)
    return root


def test_groups_follow_the_paper():
    assert [ga_group(w) for w in (23.0, 27.9, 28.0, 32.9, 33.0)] == ["GA01", "GA01", "GA02", "GA02", "GA03"]
    assert [bw_group(g) for g in (500, 999, 1000, 1499, 1500)] == ["BW01", "BW01", "BW02", "BW02", "BW03"]


def test_every_input_ends_converted_or_quarantined(delivery, key, tmp_path):
    out = tmp_path / "out"
    counts = deid_hospital(delivery, "H05", key, out, tmp_path / "secrets" / "maps" / "H05.tsv")
    assert counts == {"converted": 2, "quarantined": 2}
    quarantine = pd.read_csv(out / "quarantine.tsv", sep="\t")
    ref = Pseudonymizer(key).reference
    assert dict(zip(quarantine.source_ref, quarantine.reason)) == {
        ref("unlisted.dcm"): "missing_clinical_row", ref("broken.dcm"): "not_dicom"}
    cases = pd.read_csv(out / "cases.tsv", sep="\t")
    pseudonym = Pseudonymizer(key).patient("2008-3")
    assert list(cases.case_id) == [f"H05_{pseudonym}_01", f"H05_{pseudonym}_02"]
    assert set(cases.ga_group) == {"GA01"} and set(cases.bw_group) == {"BW01"}
    assert list(cases.age_days) == [14, 21]  # computed before the birth date was dropped


def _with_sheet_columns(delivery, **columns) -> None:
    """The delivery's clinical sheet with extra columns (one value per row: a.dcm, b.dcm, broken.dcm)."""
    sheet = pd.read_csv(delivery / "clinical.csv", dtype=str)
    sheet.assign(**columns).to_csv(delivery / "clinical.csv", index=False)


def test_hard_film_flags_pass_through_and_nothing_else(delivery, key, tmp_path):
    maps = tmp_path / "secrets" / "maps" / "H05.tsv"
    deid_hospital(delivery, "H05", key, tmp_path / "plain", maps)
    plain = pd.read_csv(tmp_path / "plain" / "cases.tsv", sep="\t")
    assert plain[list(FLAG_COLUMNS)].isna().all().all()  # a real sheet: the columns are there, empty

    _with_sheet_columns(delivery, hard_rotation=["1", "0", "0"], hard_lordotic=["0", "0", "0"],
                        hard_11_ribs=[" 0", "1 ", "0"], hard_babygram=["0", "0", "0"], mother=["Kim Mi-ran"] * 3)
    counts = deid_hospital(delivery, "H05", key, tmp_path / "out", maps)
    assert counts == {"converted": 2, "quarantined": 2}
    cases = pd.read_csv(tmp_path / "out" / "cases.tsv", sep="\t")
    assert cases[list(FLAG_COLUMNS)].to_dict("list") == {  # _01 is a.dcm, the earlier exam
        "hard_rotation": [1, 0], "hard_lordotic": [0, 0], "hard_11_ribs": [0, 1], "hard_babygram": [0, 0]}
    assert list(cases.columns) == list(plain.columns)
    for path in (tmp_path / "out").rglob("*"):
        assert not path.is_file() or b"Kim Mi-ran" not in path.read_bytes(), path.name


def test_family_id_leaves_only_as_a_keyed_pseudonym(delivery, key, tmp_path):
    """The optional family key (a mother's record number, PHI) becomes the same keyed pseudonym
    on every run, distinct from any patient pseudonym; a blank one stays empty."""
    maps = tmp_path / "secrets" / "maps" / "H05.tsv"
    _with_sheet_columns(delivery, family_id=["H05-M7654321", " ", "H05-M7654321"])
    deid_hospital(delivery, "H05", key, tmp_path / "one", maps)
    _with_sheet_columns(delivery, family_id=["H05-M7654321", "H05-M7654321", "H05-M7654321"])
    deid_hospital(delivery, "H05", key, tmp_path / "two", maps)
    one, two = (pd.read_csv(tmp_path / run / "cases.tsv", sep="\t", dtype=str) for run in ("one", "two"))
    family = Pseudonymizer(key).family("H05-M7654321")
    assert one.family_id.fillna("").tolist() == [family, ""]
    assert two.family_id.tolist() == [family, family] and family not in set(two.patient_id)
    for path in (tmp_path / "one").rglob("*"):
        assert not path.is_file() or b"M7654321" not in path.read_bytes(), path.name


@pytest.mark.parametrize("value", ["2", "", "yes"])
def test_a_flag_that_is_not_0_or_1_is_a_bad_clinical_row(delivery, key, tmp_path, value):
    _with_sheet_columns(delivery, hard_lordotic=["0", value, "0"])
    out = tmp_path / "out"
    assert deid_hospital(delivery, "H05", key, out, tmp_path / "map.tsv") == {"converted": 1, "quarantined": 3}
    quarantine = pd.read_csv(out / "quarantine.tsv", sep="\t").set_index("source_ref")
    assert quarantine.loc[Pseudonymizer(key).reference("b.dcm")].tolist() == [
        "bad_clinical_row", "hard_lordotic is not 0 or 1"]
    assert pd.read_csv(out / "cases.tsv", sep="\t").hard_lordotic.tolist() == [0]


def test_output_holds_no_phi_and_keeps_intervals(delivery, key, tmp_path):
    out = tmp_path / "out"
    deid_hospital(delivery, "H05", key, out, tmp_path / "secrets" / "maps" / "H05.tsv")
    source = korean_cr()
    phi = [str(source.PatientName), source.AccessionNumber, source.StationName, "INFINITT", "secret-name",
           source.SOPInstanceUID, source.StudyInstanceUID, "20080504", "20080420"]
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for value in phi:
                assert value.encode() not in data, (path.name, value)
    first, second = (pydicom.dcmread(p) for p in sorted((out / "dicom").glob("*.dcm")))
    for ds in (first, second):
        assert not any(e.tag.is_private for e in ds)
        assert ds.PatientIdentityRemoved == "YES" and ds.PatientBirthDate == ""
        assert ds.SOPInstanceUID.startswith("2.25.") and ds.PatientID == Pseudonymizer(key).patient("2008-3")
        assert "DeviceSerialNumber" not in ds and "OperatorsName" not in ds and "OtherPatientNames" not in ds
        assert ds.pixel_array.tobytes() == source.pixel_array.tobytes()
    dates = [pd.Timestamp(ds.StudyDate) for ds in (first, second)]
    assert (dates[1] - dates[0]).days == 7 and dates[0] != pd.Timestamp("20080504")
    assert first.StudyInstanceUID == second.StudyInstanceUID  # same source study -> same new UID


def test_rerun_is_byte_identical_and_the_map_stays_private(delivery, key, tmp_path):
    maps = tmp_path / "secrets" / "maps" / "H05.tsv"
    deid_hospital(delivery, "H05", key, tmp_path / "one", maps)
    deid_hospital(delivery, "H05", key, tmp_path / "two", maps)
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    assert files and all((tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes() for f in files)
    assert maps.stat().st_mode & 0o077 == 0 and "2008-3" in maps.read_text()


def test_age_at_exam_in_days_and_hours_checked_against_patients_age():
    from pydicom.dataset import Dataset

    from neovert.deid.clinical import age_at_exam

    exam = Dataset()
    exam.PatientBirthDate, exam.PatientBirthTime = "20240301", "2330"
    exam.AcquisitionDateTime, exam.PatientAge = "20240303013000", "001D"
    assert age_at_exam(exam) == {"age_days": 2, "age_hours": 26, "age_check": "ok"}
    exam.PatientAge = "003W"
    assert age_at_exam(exam)["age_check"] == "mismatch"
    del exam.PatientBirthTime
    assert age_at_exam(exam)["age_hours"] is None  # no birth time: days only
    exam.PatientBirthDate = "20240401"
    assert age_at_exam(exam)["age_check"] == "birth_after_exam"
    exam.PatientBirthDate = "00000000"
    assert age_at_exam(exam)["age_check"] == "no_dates"
