import gzip

import nibabel
import numpy as np
import pandas as pd
import pytest

from neovert import FLAG_COLUMNS
from neovert.deid import deid_hospital
from neovert.io import read_image
from neovert.strip import MANIFEST_COLUMNS, NoSpacing, presentation_pixels, spacing_of, strip_hospital

from ..conftest import korean_cr


def test_monochrome1_is_inverted_on_its_stored_range_then_rescaled():
    dataset = korean_cr()
    dataset.RescaleSlope, dataset.RescaleIntercept = 2, -10
    pixels, applied = presentation_pixels(dataset)
    assert applied["inverted"] == 1
    assert pixels[0, 0] == (4095 - 0) * 2 - 10 and pixels[0, 1] == (4095 - 4) * 2 - 10


def test_spacing_source_is_recorded_and_never_silently_one():
    dataset = korean_cr()  # ImagerPixelSpacing 0.15 only
    assert spacing_of(dataset) == ((0.15, 0.15), "ImagerPixelSpacing")
    dataset.EstimatedRadiographicMagnificationFactor = 1.5
    assert spacing_of(dataset) == (pytest.approx((0.1, 0.1)), "ImagerPixelSpacing/ERMF")
    dataset.PixelSpacing = [0.14, 0.13]
    assert spacing_of(dataset) == ((0.14, 0.13), "PixelSpacing")
    dataset.PixelSpacing = [0, 0]  # as Philips CR writes it: falls back, never 0
    del dataset.ImagerPixelSpacing
    with pytest.raises(NoSpacing):
        spacing_of(dataset)


def _strip_one(tmp_path, key, dataset, declared_spacing_mm=None, **sheet_columns: str) -> dict:
    """deid + strip of a one-file delivery (`sheet_columns` added to its clinical sheet); returns
    strip's counts."""
    delivery = tmp_path / "H05"
    (delivery / "dicom").mkdir(parents=True)
    (delivery / "annotations").mkdir()
    dataset.save_as(delivery / "dicom" / "a.dcm")
    (delivery / "annotations" / "a.json").write_text('{"shapes": []}')
    pd.DataFrame({"patient_key": ["2008-3"], "image_file": ["a.dcm"], "ga_weeks": ["30"],
                  "bw_grams": ["1200"], "sex": ["M"], "tube": ["0"]}).assign(**sheet_columns).to_csv(
        delivery / "clinical.csv", index=False)
    deid_hospital(delivery, "H05", key, tmp_path / "deid", tmp_path / "map.tsv")
    return strip_hospital(tmp_path / "deid", tmp_path / "strip", declared_spacing_mm=declared_spacing_mm)


def test_file_without_spacing_uses_the_sites_declared_pitch_or_is_quarantined(tmp_path, key):
    dataset = korean_cr()
    del dataset.ImagerPixelSpacing  # an old CR reader: no spacing attribute at all
    assert _strip_one(tmp_path / "undeclared", key, dataset) == {"converted": 0, "quarantined": 1}
    quarantine = pd.read_csv(tmp_path / "undeclared" / "strip" / "quarantine.tsv", sep="\t")
    assert quarantine.reason.tolist() == ["no_usable_spacing"]
    assert _strip_one(tmp_path / "declared", key, dataset, declared_spacing_mm=0.175)["converted"] == 1
    manifest = pd.read_csv(tmp_path / "declared" / "strip" / "manifest.tsv", sep="\t")
    assert manifest.spacing_source.tolist() == ["site_declared"] and manifest.spacing_row_mm.tolist() == [0.175]
    (path,) = (tmp_path / "declared" / "strip" / "images").glob("*.nii.gz")
    assert read_image(path)[1] == (float(np.float32(0.175)),) * 2
    dataset.ImagerPixelSpacing = [0.15, 0.15]  # a file that carries spacing keeps its own
    assert spacing_of(dataset, declared_mm=0.175) == ((0.15, 0.15), "ImagerPixelSpacing")
    with pytest.raises(ValueError, match="declared spacing"):
        strip_hospital(tmp_path / "declared" / "deid", tmp_path / "x", declared_spacing_mm=0)


def test_manifest_spacing_round_trips_exactly(tmp_path, key):
    """Rasterize draws the labels on the manifest's spacing and nnU-Net predicts on the image's:
    a spacing that is no short decimal (ImagerPixelSpacing / ERMF) must reach both unrounded."""
    dataset = korean_cr()
    dataset.EstimatedRadiographicMagnificationFactor = 1.13
    assert _strip_one(tmp_path, key, dataset)["converted"] == 1
    (expected, _), manifest = spacing_of(dataset), pd.read_csv(tmp_path / "strip" / "manifest.tsv", sep="\t")
    assert (manifest.spacing_row_mm[0], manifest.spacing_col_mm[0]) == expected
    (path,) = (tmp_path / "strip" / "images").glob("*.nii.gz")
    assert read_image(path)[1] == tuple(float(np.float32(v)) for v in expected)


def test_nifti_holds_pixels_and_spacing_only(tmp_path, key):
    assert _strip_one(tmp_path, key, korean_cr()) == {"converted": 1, "quarantined": 0}
    (path,) = (tmp_path / "strip" / "images").glob("*.nii.gz")
    raw = path.read_bytes()
    assert raw[3] & 0x08 == 0 and raw[4:8] == b"\0\0\0\0"  # gzip: no FNAME, MTIME 0
    header = nibabel.load(path).header
    assert header["descrip"].item() == b"" and header["aux_file"].item() == b"" and header["intent_name"].item() == b""
    assert not header.extensions
    for token in (b"2008-3", b"Agfa", b"CR250", b"INFINITT"):
        assert token not in gzip.decompress(raw)
    pixels, spacing = read_image(path)
    assert spacing == pytest.approx((0.15, 0.15)) and pixels.shape == (32, 32)
    assert np.array_equal(pixels, presentation_pixels(korean_cr())[0])
    manifest = pd.read_csv(tmp_path / "strip" / "manifest.tsv", sep="\t")
    assert manifest.spacing_source.tolist() == ["ImagerPixelSpacing"] and manifest.inverted.tolist() == [1]


def test_manifest_carries_the_hard_film_flags_or_leaves_them_empty(tmp_path, key):
    _strip_one(tmp_path / "real", key, korean_cr())
    real = pd.read_csv(tmp_path / "real" / "strip" / "manifest.tsv", sep="\t")
    assert real[list(FLAG_COLUMNS)].isna().all().all()
    _strip_one(tmp_path / "demo", key, korean_cr(), hard_rotation="1", hard_lordotic="0", hard_11_ribs="1",
               hard_babygram="0")
    demo = pd.read_csv(tmp_path / "demo" / "strip" / "manifest.tsv", sep="\t")
    assert demo[list(FLAG_COLUMNS)].iloc[0].tolist() == [1, 0, 1, 0]
    assert list(demo.columns) == list(real.columns) == MANIFEST_COLUMNS
