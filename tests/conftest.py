"""Shared fixtures: real DICOM files shipped with pydicom, and a pseudonymization key."""

from pathlib import Path

import pydicom
import pytest

from neovert.pseudonym import create_key, load_key

PYDICOM_DATA = Path(pydicom.__file__).parent / "data"
# A real Korean Agfa CR chest header (INFINITT export): Korean names, private AGFA block
KOREAN_CR = PYDICOM_DATA / "charset_files" / "chrKoreanMulti.dcm"


@pytest.fixture
def key(tmp_path: Path) -> bytes:
    return load_key(create_key(tmp_path / "secrets" / "pseudonym.key"))


def korean_cr(pixels=None) -> pydicom.Dataset:
    """The Korean CR header with 32 x 32 stored pixels (the shipped file has header only)."""
    import numpy as np

    dataset = pydicom.dcmread(KOREAN_CR)
    if pixels is None:
        pixels = (np.arange(32 * 32, dtype=np.uint16).reshape(32, 32) * 4) % 4096
    dataset.PixelData = pixels.astype(np.uint16).tobytes()
    dataset["PixelData"].VR = "OW"
    return dataset


REPO = Path(__file__).resolve().parents[1]
