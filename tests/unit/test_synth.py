"""Synthetic demo cohort: determinism, Table 1 composition, DICOM conformance and PHI,
labels that land on drawn anatomy, and pixels that are a radiograph rather than noise."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pydicom
import pytest

from neovert.synth import generate_cohort
from neovert.synth.cohort import TABLE1, allocate, image_count, largest_remainder, plan_hospital
from neovert.deid import CLINICAL_COLUMNS
from neovert.synth.render import fill_polygon

HOSPITALS = [row.hospital for row in TABLE1]
TINY_SCALE = 0.001  # 16 images: most hospitals round to 1 or 2, three would round to 0


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cohort")
    generate_cohort(out, scale=TINY_SCALE, seed=102)
    return out


def _images(root: Path) -> list[Path]:
    return sorted(root.glob("H*/dicom/IMG*.dcm"))


def _annotation(dcm: Path) -> dict:
    return json.loads((dcm.parent.parent / "annotations" / f"{dcm.stem}.json").read_text())


def _shapes(doc: dict) -> dict[str, list[np.ndarray]]:
    shapes: dict[str, list[np.ndarray]] = {}
    for shape in doc["shapes"]:
        shapes.setdefault(shape["label"], []).append(np.array(shape["points"], dtype=float))
    return shapes


def _display(ds: pydicom.Dataset) -> np.ndarray:
    """Pixel values in the MONOCHROME2 sense (dense = high)."""
    pixels = ds.pixel_array.astype(float)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        pixels = (2**ds.BitsStored - 1) - pixels
    return pixels


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# --- determinism ---------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes_for_any_worker_count(tmp_path: Path) -> None:
    generate_cohort(tmp_path / "a", per_hospital=1, seed=5)
    generate_cohort(tmp_path / "b", per_hospital=1, seed=5, workers=2)
    generate_cohort(tmp_path / "c", per_hospital=1, seed=6)
    a, b, c = (_hashes(tmp_path / name) for name in "abc")
    assert len(a) == 1 + 11 * 3  # cohort.json + per hospital: csv, one dcm, one json
    assert a == b
    differing = [name for name in a if name.endswith(".dcm") and a[name] != c[name]]
    assert len(differing) == 11


def test_rerun_with_fewer_images_removes_stale_files(tmp_path: Path) -> None:
    generate_cohort(tmp_path, per_hospital=2, seed=5)
    generate_cohort(tmp_path, per_hospital=1, seed=5)
    assert sorted(p.name for p in (tmp_path / "H04" / "dicom").iterdir()) == ["IMG00001.dcm"]
    assert sorted(p.name for p in (tmp_path / "H04" / "annotations").iterdir()) == ["IMG00001.json"]


# --- composition ---------------------------------------------------------------------------


def test_counts_follow_scale(cohort: Path) -> None:
    summary = json.loads((cohort / "cohort.json").read_text())
    expected = {row.hospital: max(1, round(row.images * TINY_SCALE)) for row in TABLE1}
    assert summary["counts"] == expected
    assert summary["seed"] == 102 and summary["scale"] == TINY_SCALE and summary["per_hospital"] is None
    for hospital, count in expected.items():
        assert len(list((cohort / hospital / "dicom").glob("*.dcm"))) == count
        assert len(list((cohort / hospital / "annotations").glob("*.json"))) == count


def test_largest_remainder_is_exact() -> None:
    assert largest_remainder(10, (72.5, 7.5, 20.0)) == [7, 1, 2]
    assert sum(largest_remainder(443, (49.0, 40.9, 10.2))) == 443  # a row summing to 100.1
    assert image_count(TABLE1[0], 0.01, 3) == 3
    assert image_count(TABLE1[9], 0.0001, None) == 1


def test_full_scale_allocation_reproduces_table1() -> None:
    total = 0
    for row in TABLE1:
        n = image_count(row, 1.0, None)
        assert n == row.images
        total += n
        quota = allocate(row, n)
        for counts, shares in ((quota.ga, row.ga_pct), (quota.bw, row.bw_pct)):
            assert sum(counts) == n
            for count, share in zip(counts, shares):
                assert abs(count - n * share / sum(shares)) <= 1
        assert abs(quota.tube - n * row.tube_pct / 100) <= 1
    assert total == 14_660


def test_full_scale_plan_keeps_quotas_and_patient_consistency() -> None:
    row = TABLE1[6]  # H07: the most unusual GA/BW mix
    plans = plan_hospital(7, row.images, seed=102)
    quota = allocate(row, row.images)
    assert [p.number for p in plans] == list(range(1, row.images + 1))
    assert tuple(Counter(p.ga_group for p in plans)[g] for g in range(3)) == quota.ga
    assert tuple(Counter(p.bw_group for p in plans)[g] for g in range(3)) == quota.bw
    assert sum(p.tube for p in plans) == quota.tube
    by_patient: dict[int, list] = {}
    for plan in plans:
        by_patient.setdefault(plan.patient_index, []).append(plan)
        lo, hi = ((23.0, 27.9), (28.0, 32.9), (33.0, 41.9))[plan.ga_group]
        assert lo <= plan.ga_weeks <= hi
        lo, hi = ((450, 999), (1000, 1499), (1500, 4200))[plan.bw_group]
        assert lo <= plan.bw_grams <= hi
    assert 1 < len(by_patient) < len(plans)
    for images in by_patient.values():
        assert 1 <= len(images) <= 4
        assert len({(p.ga_weeks, p.bw_grams, p.sex) for p in images}) == 1
        days = [p.day_of_life for p in images]
        assert days == sorted(set(days)) and 0 <= days[0] and days[-1] <= 60


def test_clinical_csv_matches_dicom(cohort: Path) -> None:
    for hospital in HOSPITALS:
        with (cohort / hospital / "clinical.csv").open(newline="") as handle:
            reader = csv.DictReader(handle)
            assert tuple(reader.fieldnames or ()) == CLINICAL_COLUMNS
            rows = list(reader)
        assert len(rows) == len(list((cohort / hospital / "dicom").glob("*.dcm")))
        for row in rows:
            ds = pydicom.dcmread(cohort / hospital / "dicom" / row["image_file"], stop_before_pixels=True)
            assert row["patient_key"] == ds.PatientID and row["patient_key"].startswith(f"{hospital}-")
            assert row["sex"] == ds.PatientSex and row["sex"] in {"M", "F"}
            assert row["tube"] in {"0", "1"}
            assert len(row["ga_weeks"].split(".")[1]) == 1 and 23.0 <= float(row["ga_weeks"]) <= 41.9
            assert 450 <= int(row["bw_grams"]) <= 4200


# --- DICOM ---------------------------------------------------------------------------------


def test_dicom_headers_carry_spacing_and_phi(cohort: Path) -> None:
    modalities, photometric = set(), set()
    for dcm in _images(cohort):
        ds = pydicom.dcmread(dcm)
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert ds.pixel_array.shape == (ds.Rows, ds.Columns) and max(ds.Rows, ds.Columns) <= 1400
        assert int(ds.pixel_array.max()) < 2**ds.BitsStored
        assert all(0.1 <= float(v) <= 0.2 for v in ds.PixelSpacing)
        if ds.Modality == "DX":
            assert list(ds.ImagerPixelSpacing) == list(ds.PixelSpacing)
        modalities.add(ds.Modality)
        photometric.add(ds.PhotometricInterpretation)
        family, given = str(ds.PatientName).split("^")
        assert len(family) >= 5 and len(given) >= 5
        assert f"{family} {given}" in ds.ImageComments and ds.PatientID in ds.ImageComments
        assert f"{family} {given}" in ds.StudyDescription
        for keyword in ("PatientBirthDate", "StudyDate", "AccessionNumber", "InstitutionName",
                        "ReferringPhysicianName", "OperatorsName", "StationName", "DeviceSerialNumber"):
            assert str(ds.data_element(keyword).value), keyword
        assert ds.AccessionNumber.startswith("ACC") and ds.PatientAge.endswith("D")
        request = ds.RequestAttributesSequence[0]
        assert request.AccessionNumber == ds.AccessionNumber and request.ScheduledProcedureStepID
        other = ds.OtherPatientIDsSequence[0]
        assert other.PatientID.startswith(ds.PatientID[:4])
        assert other.IssuerOfPatientIDQualifiersSequence[0].AssigningFacilitySequence[0].LocalNamespaceEntityID
        private = [e for e in ds if e.tag.is_private and not e.tag.is_private_creator]
        creators = [e for e in ds if e.tag.is_private_creator]
        assert creators and any(ds.PatientID in str(e.value) for e in private)
    assert modalities == {"CR", "DX"} and photometric == {"MONOCHROME1", "MONOCHROME2"}


def test_uids_are_unique_and_deterministic(cohort: Path) -> None:
    uids = []
    for dcm in _images(cohort):
        ds = pydicom.dcmread(dcm, stop_before_pixels=True)
        uids += [ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID]
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert len(set(uids)) == len(uids)


def test_dciodvfy_reports_no_errors(cohort: Path) -> None:
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not on PATH")
    for hospital in HOSPITALS:
        dcm = cohort / hospital / "dicom" / "IMG00001.dcm"
        result = subprocess.run(["dciodvfy", str(dcm)], capture_output=True, text=True, check=False)
        errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]
        assert not errors, f"{hospital}: {errors}"


# --- labels --------------------------------------------------------------------------------


def test_labelme_documents_are_well_formed(cohort: Path) -> None:
    for dcm in _images(cohort):
        ds = pydicom.dcmread(dcm, stop_before_pixels=True)
        doc = _annotation(dcm)
        assert doc["version"] == "5.4.1" and doc["imageData"] is None and doc["flags"] == {}
        assert doc["imagePath"] == f"../dicom/{dcm.name}"
        assert (doc["imageHeight"], doc["imageWidth"]) == (ds.Rows, ds.Columns)
        shapes = _shapes(doc)
        assert sorted(shapes) == ["T1", "T12", "T7", "lung"] and len(shapes["lung"]) == 2
        assert all(s["shape_type"] == "polygon" and s["group_id"] is None for s in doc["shapes"])
        for level in ("T1", "T7", "T12"):
            (quad,) = shapes[level]
            assert quad.shape == (4, 2)
            assert (quad >= 0).all() and (quad[:, 0] <= ds.Columns).all() and (quad[:, 1] <= ds.Rows).all()
        assert shapes["T1"][0][:, 1].mean() < shapes["T7"][0][:, 1].mean() < shapes["T12"][0][:, 1].mean()
        for lung in shapes["lung"]:
            assert 20 <= len(lung) <= 60


def test_vertebra_labels_sit_on_drawn_bone(cohort: Path) -> None:
    """Each quadrilateral is brighter than the same quadrilateral moved half a vertebral
    pitch along the spine, onto the disc gap (in the displayed sense)."""
    for dcm in _images(cohort):
        image = _display(pydicom.dcmread(dcm))
        shapes = _shapes(_annotation(dcm))
        pitch = (shapes["T12"][0].mean(axis=0) - shapes["T1"][0].mean(axis=0)) / 11
        for level in ("T1", "T7", "T12"):
            quad = shapes[level][0]
            on_bone = image[fill_polygon(quad, image.shape)].mean()
            on_disc = image[fill_polygon(quad + 0.5 * pitch, image.shape)].mean()
            assert on_bone > on_disc, f"{dcm.parent.parent.name}/{dcm.name} {level}"


def test_lungs_are_darker_than_spine(cohort: Path) -> None:
    for dcm in _images(cohort):
        image = _display(pydicom.dcmread(dcm))
        shapes = _shapes(_annotation(dcm))
        spine = np.concatenate([image[fill_polygon(shapes[lv][0], image.shape)] for lv in ("T1", "T7", "T12")])
        lung = np.concatenate([image[fill_polygon(p, image.shape)] for p in shapes["lung"]])
        assert lung.mean() < spine.mean() - 0.5 * image.std(), dcm.name


def test_spine_profile_is_periodic_with_the_vertebral_pitch(cohort: Path) -> None:
    """Along the line from the T1 to the T12 centre the strongest oscillation has exactly
    11 periods: the image is a drawn spine, not noise."""
    for dcm in _images(cohort):
        image = _display(pydicom.dcmread(dcm))
        shapes = _shapes(_annotation(dcm))
        start, end = shapes["T1"][0].mean(axis=0), shapes["T12"][0].mean(axis=0)
        t = np.linspace(0, 1, 440)
        points = start + np.outer(t, end - start)
        profile = image[points[:, 1].astype(int), points[:, 0].astype(int)]
        profile = profile - np.polyval(np.polyfit(t, profile, 2), t)
        spectrum = np.abs(np.fft.rfft(profile))
        assert int(np.argmax(spectrum[3:60])) + 3 == 11, dcm.name


def test_fill_polygon_samples_pixel_centres() -> None:
    square = np.array([[2, 2], [6, 2], [6, 6], [2, 6]], dtype=float)
    assert fill_polygon(square, (10, 10)).sum() == 16
    shifted = square + 0.6  # covers 2.6..6.6: the centres 3.5 .. 6.5, i.e. pixels 3..6
    mask = fill_polygon(shifted, (10, 10))
    assert mask.sum() == 16 and mask[3, 3] and not mask[2, 2]
