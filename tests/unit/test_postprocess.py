"""neovert.postprocess: largest-component filter (checked against nnU-Net's helper) and folder I/O."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from neovert.postprocess import VERTEBRAE, components_to_keep, keep_largest_components, postprocess_folder


def test_diagonal_neighbours_connect():
    labels = np.zeros((10, 10), np.uint8)
    labels[1, 1] = labels[2, 2] = labels[3, 3] = 2  # one 8-connected staircase of 3 pixels
    labels[7, 7:9] = 2  # a 2-pixel island
    out = keep_largest_components(labels)
    expected = labels.copy()
    expected[7, 7:9] = 0
    np.testing.assert_array_equal(out, expected)


def test_ties_are_all_kept_and_smaller_removed():
    labels = np.zeros((12, 12), np.uint8)
    labels[0:2, 0:2] = 3
    labels[8:10, 8:10] = 3
    labels[5, 5] = 3
    out = keep_largest_components(labels)
    assert (out == 3).sum() == 8
    assert out[5, 5] == 0


def test_lung_and_unlisted_classes_untouched_and_input_kept():
    labels = np.zeros((20, 20), np.uint8)
    labels[0:5, 0:5] = labels[0:5, 10:15] = 1  # two lungs, two components
    labels[10:14, 2:6] = 4
    labels[18, 18] = 4
    labels[12, 7] = 4  # island touching nothing of class 4, removed
    before = labels.copy()
    out = keep_largest_components(labels)
    np.testing.assert_array_equal(labels, before)
    np.testing.assert_array_equal(out == 1, before == 1)
    assert (out == 4).sum() == 16
    only_t1 = keep_largest_components(labels, {2: 1})
    np.testing.assert_array_equal(only_t1, before)


def test_lung_keeps_its_two_largest_components_when_configured():
    labels = np.zeros((20, 20), np.uint8)
    labels[0:6, 0:5] = labels[0:5, 10:15] = 1  # two lungs
    labels[15:17, 15:17] = 1  # a speck
    labels[10:12, 2:4] = 2
    out = keep_largest_components(labels, components_to_keep(2))
    assert (out == 1).sum() == 30 + 25 and out[15, 15] == 0
    np.testing.assert_array_equal(keep_largest_components(labels, components_to_keep(None)), labels)


def test_agrees_with_nnunet_helper():
    morphology = pytest.importorskip("acvl_utils.morphology.morphology_helper")
    rng = np.random.default_rng(7)
    for _ in range(40):
        labels = rng.choice(5, size=(48, 56), p=[0.7, 0.15, 0.05, 0.05, 0.05]).astype(np.uint8)
        expected = labels.copy()
        for label in VERTEBRAE:
            mask = labels == label
            expected[mask & ~morphology.remove_all_but_largest_component(mask)] = 0
        np.testing.assert_array_equal(keep_largest_components(labels), expected)


def _write(path: Path, labels: np.ndarray) -> None:
    image = sitk.GetImageFromArray(labels)
    image.SetSpacing((0.15, 0.14))
    image.SetOrigin((-3.0, 12.5))
    image.SetDirection((0.0, 1.0, 1.0, 0.0))
    sitk.WriteImage(image, str(path), useCompression=True)


def test_folder_round_trip_keeps_geometry(tmp_path):
    pred_dir, out_dir = tmp_path / "pred", tmp_path / "out"
    pred_dir.mkdir()
    maps = {}
    for case_id in ("H02_b_1", "H01_a_1"):
        labels = np.zeros((30, 40), np.uint16)
        labels[2:10, 2:12] = 2
        labels[20, 30] = 2
        labels[15:18, 5:9] = 1
        maps[case_id] = labels
        _write(pred_dir / f"{case_id}.nii.gz", labels)
    (pred_dir / ".H03_c_1.tmp1.nii.gz").write_bytes(b"half-written")

    assert postprocess_folder(pred_dir, out_dir) == ["H01_a_1", "H02_b_1"]
    assert sorted(p.name for p in out_dir.iterdir()) == ["H01_a_1.nii.gz", "H02_b_1.nii.gz"]
    for case_id, labels in maps.items():
        image = sitk.ReadImage(str(out_dir / f"{case_id}.nii.gz"))
        reference = sitk.ReadImage(str(pred_dir / f"{case_id}.nii.gz"))
        assert image.GetSpacing() == reference.GetSpacing()
        assert image.GetOrigin() == reference.GetOrigin()
        assert image.GetDirection() == reference.GetDirection()
        array = sitk.GetArrayFromImage(image)
        assert array.dtype == np.uint8
        np.testing.assert_array_equal(array, keep_largest_components(labels))
        assert array[20, 30] == 0


def test_folder_refuses_non_label_maps(tmp_path):
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    sitk.WriteImage(sitk.GetImageFromArray(np.full((4, 4), 0.5, np.float32)), str(pred_dir / "H01_x_1.nii.gz"))
    with pytest.raises(ValueError, match="H01_x_1"):
        postprocess_folder(pred_dir, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []
