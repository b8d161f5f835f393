"""Synthetic demo cohort: determinism, Table 1 composition, DICOM conformance and PHI per
vendor profile, labels that land on drawn anatomy, pixels that are a radiograph rather than
noise, a cohort a model cannot shortcut (mean-position baseline, device tips, hard slices),
and the contact sheet."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from scipy import ndimage

from neovert import FLAG_COLUMNS
from neovert.cli import main
from neovert.deid import CLINICAL_COLUMNS
from neovert.deid.clinical import FAMILY_COLUMN, read_clinical
from neovert.synth import dicom, generate_cohort, hard_cases, identity, labels, profiles
from neovert.synth.anatomy import ARM_POSES
from neovert.synth.baseline import mean_position_dsc, planned_cases
from neovert.synth.cohort import (
    BW_GRAMS, TABLE1, TWIN_SHARE, allocate, image_count, largest_remainder, plan_cohort, plan_hospital,
)
from neovert.synth.contact_sheet import COLOURS, contact_sheet
from neovert.synth.generate import layout
from neovert.synth.primitives import Arc, Blob, Tube
from neovert.synth.render import fill_polygon

HOSPITALS = [row.hospital for row in TABLE1]
TINY_SCALE = 0.001  # 16 images: most hospitals round to 1 or 2, three would round to 0


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cohort")
    generate_cohort(out, scale=TINY_SCALE, seed=102)
    return out


def _plans(scale: float, seed: int = 102) -> list:
    """The image plans `generate_cohort` draws at this scale (all hospitals, file order)."""
    return plan_cohort(scale, seed)


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


def _inside(blob: Blob, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
    """Whether body-mm points lie inside the blob's superellipse (what the renderer fills)."""
    c, s = np.cos(blob.angle), np.sin(blob.angle)
    u, v = (x - blob.cx) * c + (y - blob.cy) * s, -(x - blob.cx) * s + (y - blob.cy) * c
    return np.abs(u / blob.a) ** blob.n + np.abs(v / blob.b) ** blob.n <= 1


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
    assert len(a) == 1 + 11 * 4  # cohort.json + per hospital: clinical.csv, burned_in.csv, one dcm, one json
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


def test_twins_at_the_intended_share_share_family_birth_and_groups() -> None:
    """2-3 % of infants are twins; a pair shares hospital, mother, surname, birth date, GA and
    both groups, with birth weights near each other, under two MRNs and given names; quotas
    still hold exactly (test_full_scale_allocation_reproduces_table1)."""
    plans = _plans(1.0)
    first = {(p.hospital, p.patient_index): p for p in plans if p.image_index == 0}
    families = Counter((p.hospital, p.family_index) for p in first.values())
    twins = [p for p in first.values() if p.family_index != p.patient_index]
    assert max(families.values()) == 2 and len(twins) == sum(n == 2 for n in families.values())
    assert abs(2 * len(twins) / len(first) - TWIN_SHARE) <= 0.005
    assert len({p.hospital for p in twins}) == len(TABLE1)
    for second in twins:
        elder = first[second.hospital, second.family_index]
        assert elder.family_index == elder.patient_index < second.patient_index
        assert (elder.ga_weeks, elder.ga_group, elder.bw_group) == (second.ga_weeks, second.ga_group, second.bw_group)
        lo, hi = BW_GRAMS[second.bw_group]
        assert lo <= second.bw_grams <= hi and abs(second.bw_grams / elder.bw_grams - 1) <= 0.35
        a, b = (identity.patient(102, p.hospital_index, p.patient_index, p.family_index) for p in (elder, second))
        assert (a.mother_key, a.family, a.birth.date()) == (b.mother_key, b.family, b.birth.date())
        assert a.key != b.key and a.given != b.given and a.birth < b.birth


def test_clinical_csv_matches_dicom(cohort: Path) -> None:
    for hospital in HOSPITALS:
        with (cohort / hospital / "clinical.csv").open(newline="") as handle:
            reader = csv.DictReader(handle)
            assert tuple(reader.fieldnames or ()) == CLINICAL_COLUMNS + (FAMILY_COLUMN,) + FLAG_COLUMNS
            rows = list(reader)
        assert len(rows) == len(list((cohort / hospital / "dicom").glob("*.dcm")))
        assert len(read_clinical(cohort / hospital / "clinical.csv")) == len(rows)  # deid reads it as is
        for row in rows:
            ds = pydicom.dcmread(cohort / hospital / "dicom" / row["image_file"], stop_before_pixels=True)
            assert row["patient_key"] == ds.PatientID and row["patient_key"].startswith(f"{hospital}-")
            assert row[FAMILY_COLUMN] == ds.OtherPatientIDsSequence[0].PatientID  # the mother's MRN
            assert row["sex"] == ds.PatientSex and row["sex"] in {"M", "F"}
            assert row["tube"] in {"0", "1"}
            assert len(row["ga_weeks"].split(".")[1]) == 1 and 23.0 <= float(row["ga_weeks"]) <= 41.9
            assert 450 <= int(row["bw_grams"]) <= 4200
            assert all(row[column] in {"0", "1"} for column in FLAG_COLUMNS)


def test_written_labels_and_flags_come_from_the_layout(cohort: Path) -> None:
    """The pixel-free path (`layout`) that the baseline and flag checks use gives exactly the
    labels and hard-slice flags written with the pixels."""
    for plan in _plans(TINY_SCALE):
        scene, frame = layout(102, plan)
        folder = cohort / plan.hospital
        document = labels.labelme(scene, frame, f"../dicom/{plan.stem}.dcm")
        assert (folder / "annotations" / f"{plan.stem}.json").read_bytes() == labels.encode(document)
        with (folder / "clinical.csv").open(newline="") as handle:
            (row,) = [r for r in csv.DictReader(handle) if r["image_file"] == f"{plan.stem}.dcm"]
        assert {c: int(row[c]) for c in FLAG_COLUMNS} == hard_cases.flags(scene, frame)


def test_mean_position_baseline_fails() -> None:
    """Predicting every image's T1/T7/T12 at the cohort's mean place (in normalised, pixel or
    mm coordinates) must score DSC < 0.2: position alone does not give the labels."""
    scores = mean_position_dsc(planned_cases(102, _plans(0.01)))
    for frame, per_level in scores.items():
        assert set(per_level) == {"T1", "T7", "T12"}
        assert max(per_level.values()) < 0.2, (frame, per_level)


def test_hard_slices_are_a_minority_and_drawn() -> None:
    """Each hard slice occurs in a few to a quarter of the films, and an 11-rib film has no
    12th rib drawn (two arcs per rib pair, plus two clavicles, two humeri and an optional
    cervical rib)."""
    plans = _plans(0.02)
    counts: Counter[str] = Counter()
    for plan in plans:
        scene, frame = layout(102, plan)
        counts.update(column for column, on in hard_cases.flags(scene, frame).items() if on)
        arcs = sum(isinstance(p, Arc) for p in scene.primitives)
        assert 2 * scene.rib_pairs + 4 <= arcs <= 2 * scene.rib_pairs + 4 + 2 * scene.cervical_rib
    for column in FLAG_COLUMNS:
        assert 0.01 * len(plans) <= counts[column] <= 0.25 * len(plans), (column, counts)


# --- anatomy and pose ----------------------------------------------------------------------


def test_arms_are_up_or_down_at_their_shares_and_move_the_scapulae() -> None:
    """Both arms up, both down, or one of each at ARM_POSES' shares. A raised humerus ends
    above C6 beside the neck; a lowered one ends below T6 outside the lung; and raising the
    arm swings the scapula's inferior angle out past where any lowered arm leaves it."""
    plans = _plans(0.02)
    poses: Counter[tuple[bool, bool]] = Counter()
    swing: dict[bool, list[float]] = {True: [], False: []}
    for plan in plans:
        scene, _ = layout(102, plan)
        poses[scene.arms_up] += 1
        v, trunk = scene.vertebrae, scene.trunk
        for side, up, scapula, humerus, lung in zip((-1, 1), scene.arms_up, scene.scapulae, scene.humeri, scene.lungs):
            glenoid, _, inferior = np.array(scapula.points)
            ends = humerus.centreline()[[0, -1]]
            elbow = ends[np.argmax(np.hypot(*(ends - glenoid).T))]
            if up:
                assert elbow[1] < v["C6"].cy and side * elbow[0] > np.interp(elbow[1], trunk.y_knots, trunk.half_width)
            else:
                assert elbow[1] > v["T6"].cy and side * elbow[0] > np.abs(np.array(lung.points)[:, 0]).max()
            swing[up].append(side * (inferior[0] - glenoid[0]))
    for pose, share in ARM_POSES.items():
        assert abs(poses[pose] / len(plans) - share) < 0.07, poses
    assert max(swing[False]) < 0 < max(swing[True]) and max(swing[False]) < min(swing[True])


def test_scapulae_are_drawn_over_the_upper_posterior_ribs() -> None:
    """Each scapula is a bone plate in the drawing, from above T2 to below T4, lateral to the
    spine and inside the body's outline."""
    for plan in _plans(0.01):
        scene, _ = layout(102, plan)
        v, trunk = scene.vertebrae, scene.trunk
        for side, scapula in zip((-1, 1), scene.scapulae):
            assert scapula in scene.primitives and scapula.density > 0
            x, y = np.array(scapula.points).T
            assert y.min() < v["T2"].cy and y.max() > v["T4"].cy
            assert (side * (x - np.array([scene.spine_x(at) for at in y])) > v["T4"].a).all()
            assert (np.abs(x) < np.interp(y, trunk.y_knots, trunk.half_width)).all()


def test_axial_rotation_moves_the_spine_against_the_chest_wall() -> None:
    """Most films are turned at most 5 degrees about the long axis, some 5-15. With the right
    side lifted the spine (behind) projects to the right of the trunk's midline (x = 0) and the
    mediastinum (in front) to the left, so the right lung widens; past 10 degrees the film is
    a hard one."""
    angles, spine, widening = [], [], []
    for plan in _plans(0.02):
        scene, frame = layout(102, plan)
        angles.append(scene.axial_rotation_deg)
        spine.append(np.mean([scene.vertebrae[f"T{n}"].cx for n in range(1, 13)]))
        right, left = (np.ptp(np.array(lung.points)[:, 0]) for lung in scene.lungs)
        widening.append(right - left)
        if abs(scene.axial_rotation_deg) > hard_cases.ROTATION_DEG:
            assert hard_cases.flags(scene, frame)["hard_rotation"] == 1
    turned = np.abs(angles)
    assert 0.7 <= np.mean(turned <= 5) <= 0.9 and np.mean(turned > 10) >= 0.03 and turned.max() <= 15
    assert np.corrcoef(angles, spine)[0, 1] < -0.8
    assert np.corrcoef(angles, widening)[0, 1] > 0.6


def test_liver_lies_under_the_right_dome_over_the_lower_thoracic_spine() -> None:
    """The liver is its own soft-tissue structure, denser than the trunk: its top meets the right
    dome and it covers T11 in every film and T10, T12 and L1 in most (lower bone contrast there)."""
    plans = _plans(0.02)
    covered: Counter[str] = Counter()
    for plan in plans:
        scene, _ = layout(102, plan)
        liver, v = scene.liver, scene.vertebrae
        assert liver in scene.primitives and liver.density > 0 and liver.cx < 0
        dome_x, dome_y = scene.landmarks["right_dome"]
        column = np.linspace(dome_y - 20, dome_y + 20, 401)
        top = column[_inside(liver, dome_x, column)].min()
        assert abs(top - dome_y) < (v["T12"].cy - v["T1"].cy) / 11
        covered.update(level for level in ("T10", "T11", "T12", "L1") if _inside(liver, v[level].cx, v[level].cy))
    assert covered["T11"] == len(plans)
    assert min(covered["T10"], covered["T12"]) >= 0.85 * len(plans) and covered["L1"] >= 0.5 * len(plans)


# --- DICOM ---------------------------------------------------------------------------------


def test_dicom_headers_carry_spacing_and_phi(cohort: Path) -> None:
    modalities, photometric, syntaxes, korean, imager_only, no_spacing = set(), set(), set(), set(), set(), set()
    for dcm in _images(cohort):
        ds = pydicom.dcmread(dcm)
        profile = profiles.profile(HOSPITALS.index(dcm.parent.parent.name) + 1)
        assert ds.file_meta.TransferSyntaxUID == profile.transfer_syntax and ds.LossyImageCompression == "00"
        syntaxes.add(ds.file_meta.TransferSyntaxUID)
        assert ds.pixel_array.shape == (ds.Rows, ds.Columns) and max(ds.Rows, ds.Columns) <= 1400
        assert int(ds.pixel_array.max()) < 2**ds.BitsStored
        if not profile.imager_spacing:  # the site whose old CR reader writes no spacing at all
            assert "ImagerPixelSpacing" not in ds and "PixelSpacing" not in ds and ds.Modality == "CR"
            no_spacing.add(profile.hospital)
        elif "PixelSpacing" in ds:
            assert list(ds.ImagerPixelSpacing) == list(ds.PixelSpacing)
        else:
            imager_only.add(ds.Modality)
        assert all(0.1 <= float(v) <= 0.2 for v in ds.get("ImagerPixelSpacing", [0.1]))
        modalities.add(ds.Modality)
        photometric.add(ds.PhotometricInterpretation)
        family, given = ds.PatientName.family_name, ds.PatientName.given_name
        assert len(family) >= 5 and len(given) >= 5
        if profile.korean:
            assert all("\uac00" <= c <= "\ud7a3" for c in ds.PatientName.ideographic.replace("^", ""))
            korean.add(ds.SpecificCharacterSet if isinstance(ds.SpecificCharacterSet, str) else "ISO 2022 IR 149")
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
    assert imager_only == {"CR", "DX"} and no_spacing == {"H11"} and korean == {"ISO 2022 IR 149", "ISO_IR 192"}
    assert syntaxes == {pydicom.uid.ExplicitVRLittleEndian, pydicom.uid.JPEGLosslessSV1,
                        pydicom.uid.JPEG2000Lossless, pydicom.uid.RLELossless}


@pytest.mark.parametrize("syntax", [pydicom.uid.JPEGLosslessSV1, pydicom.uid.JPEG2000Lossless,
                                    pydicom.uid.RLELossless])
@pytest.mark.parametrize("bits", [10, 15])
def test_compression_is_lossless(syntax: str, bits: int) -> None:
    """What the compressed sites store decodes to exactly the drawn values, at any depth."""
    pixels = np.random.default_rng(bits).integers(0, 2**bits, (37, 53)).astype(np.uint16)
    ds = pydicom.Dataset()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = dicom.DX_IMAGE_STORAGE, pydicom.uid.generate_uid()
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 37, 53, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits, bits - 1, 0
    ds.PixelData = pixels.tobytes()
    uid = ds.SOPInstanceUID
    dicom.compress(ds, pixels, syntax)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    back = pydicom.dcmread(io.BytesIO(buffer.getvalue()))
    assert back.file_meta.TransferSyntaxUID == syntax and back.SOPInstanceUID == uid  # no fresh random UID
    assert np.array_equal(back.pixel_array, pixels)


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


def test_devices_follow_the_tube_plan_and_miss_their_targets_sometimes() -> None:
    """Exactly the images planned with a tube (Table 1's share) have devices drawn, and tips
    do not leak a label: the ETT ends on T1-T2 in most films but not all, across >= 4 levels."""
    ett_levels: Counter[str] = Counter()
    for plan in _plans(0.02):
        scene, _ = layout(102, plan)
        tubes = [p for p in scene.primitives if isinstance(p, Tube)]
        assert bool(tubes) == plan.tube, plan.stem
        ett = [t for t in tubes if t.device == "ETT"]
        if ett:
            tip_y = ett[0].points[-1][1]
            ett_levels[min(scene.vertebrae, key=lambda level: abs(scene.vertebrae[level].cy - tip_y))] += 1
    on_target = (ett_levels["T1"] + ett_levels["T2"]) / sum(ett_levels.values())
    assert sum(ett_levels.values()) >= 40 and 0.45 <= on_target <= 0.85 and len(ett_levels) >= 4, ett_levels


def test_vertebra_labels_overlap_the_drawn_centrum(cohort: Path) -> None:
    """The rasterized label quadrilateral and the generator's own centrum mask (the
    superellipse the renderer fills, sampled at pixel centres) agree: DSC >= 0.9."""
    for plan in _plans(TINY_SCALE):
        scene, frame = layout(102, plan)
        shapes = _shapes(json.loads((cohort / plan.hospital / "annotations" / f"{plan.stem}.json").read_text()))
        xb, yb = frame.body_grid((0, frame.rows, 0, frame.cols))
        for level in ("T1", "T7", "T12"):
            bone = _inside(scene.vertebrae[level], xb, yb)
            label = fill_polygon(shapes[level][0], (frame.rows, frame.cols))
            dsc = 2 * (bone & label).sum() / (bone.sum() + label.sum())
            assert dsc >= 0.9, f"{plan.hospital}/{plan.stem} {level}: {dsc:.3f}"


def test_lungs_are_darker_than_spine(cohort: Path) -> None:
    for dcm in _images(cohort):
        image = _display(pydicom.dcmread(dcm))
        shapes = _shapes(_annotation(dcm))
        spine = np.concatenate([image[fill_polygon(shapes[lv][0], image.shape)] for lv in ("T1", "T7", "T12")])
        lung = np.concatenate([image[fill_polygon(p, image.shape)] for p in shapes["lung"]])
        assert lung.mean() < spine.mean() - 0.5 * image.std(), dcm.name


def test_spine_profile_is_periodic_with_the_vertebral_pitch(cohort: Path) -> None:
    """Along the line from the T1 to the T12 centre the strongest oscillation has exactly
    11 periods: the image is a drawn spine, not noise. The profile is the median of parallel
    lines across the middle of the bodies, high-passed at one pitch, so a tube lying along the
    spine (an OG tube, a UAC) does not mask the vertebrae."""
    for dcm in _images(cohort):
        image = _display(pydicom.dcmread(dcm))
        shapes = _shapes(_annotation(dcm))
        start, end = shapes["T1"][0].mean(axis=0), shapes["T12"][0].mean(axis=0)
        axis = (end - start) / np.linalg.norm(end - start)
        half_band = 0.3 * np.linalg.norm(shapes["T7"][0][1] - shapes["T7"][0][0])
        t = np.linspace(0, 1, 440)
        lines = []
        for offset in np.linspace(-half_band, half_band, 9):
            points = start + np.outer(t, end - start) + offset * np.array([-axis[1], axis[0]])
            lines.append(image[points[:, 1].astype(int), points[:, 0].astype(int)])
        profile = np.median(lines, axis=0)
        profile = profile - ndimage.gaussian_filter1d(profile, 440 / 11, mode="nearest")
        spectrum = np.abs(np.fft.rfft(profile))
        assert int(np.argmax(spectrum[3:60])) + 3 == 11, dcm.name


def test_fill_polygon_samples_pixel_centres() -> None:
    square = np.array([[2, 2], [6, 2], [6, 6], [2, 6]], dtype=float)
    assert fill_polygon(square, (10, 10)).sum() == 16
    shifted = square + 0.6  # covers 2.6..6.6: the centres 3.5 .. 6.5, i.e. pixels 3..6
    mask = fill_polygon(shifted, (10, 10))
    assert mask.sum() == 16 and mask[3, 3] and not mask[2, 2]


# --- contact sheet -------------------------------------------------------------------------


def test_contact_sheet_shows_every_hospital_with_labels(cohort: Path, tmp_path: Path) -> None:
    out = contact_sheet(cohort, tmp_path / "sheet.png", tile_width=200, columns=4)
    sheet = cv2.imread(str(out), cv2.IMREAD_COLOR)
    tile_h, tile_w = round(200 * 1.3), 200
    assert sheet.shape == (3 * tile_h, 4 * tile_w, 3)
    for k in range(len(HOSPITALS)):
        tile = sheet[(k // 4) * tile_h : (k // 4 + 1) * tile_h, (k % 4) * tile_w : (k % 4 + 1) * tile_w]
        for level in ("T1", "T7", "T12"):
            assert (tile == COLOURS[level]).all(axis=2).sum() >= 10, (HOSPITALS[k], level)


def test_contact_sheet_command_is_deterministic(cohort: Path, tmp_path: Path) -> None:
    for name in ("a.png", "b.png"):
        main(["synth-sheet", "--cohort", str(cohort), "--out", str(tmp_path / name)])
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert (tmp_path / "a.png").stat().st_size < 1_500_000  # small enough for the README
