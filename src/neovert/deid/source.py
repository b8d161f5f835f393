"""Reading one delivered file and deciding whether it is a radiograph this stage can convert.

Each check raises `Quarantine` with a stable reason code; the order goes from cheap header checks
to pixel decoding, so a 40 MB ultrasound cine is rejected before its pixels are touched.
Exception details are reduced to the exception's type name: messages can quote header values.
"""

from __future__ import annotations

import io

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import get_decoder

CR = "1.2.840.10008.5.1.4.1.1.1"
DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
DX_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.1.1"
RADIOGRAPHS = frozenset({CR, DX_FOR_PRESENTATION, DX_FOR_PROCESSING})

REASONS = {
    "not_dicom": "no DICOM preamble or meta header",
    "unreadable": "the header cannot be parsed",
    "truncated": "pixel data shorter than rows x columns x bits",
    "not_a_radiograph": "SOP class is not CR or DX",
    "no_pixel_data": "no Pixel Data element",
    "multi_frame": "more than one frame",
    "colour": "not MONOCHROME1/MONOCHROME2 with one sample per pixel",
    "unsupported_transfer_syntax": "no installed decoder for the transfer syntax",
    "undecodable": "the decoder failed on the pixel data",
    "burned_in_annotation": "OCR found identifier-like text in the pixels it could not read with confidence",
    "no_patient_id": "Patient ID is empty",
    "missing_clinical_row": "the clinical sheet has no row for this file",
    "clinical_mismatch": "Patient ID differs from the clinical sheet's patient key",
    "bad_clinical_row": "ga_weeks, bw_grams or tube is not a number, or a hard-film flag is not 0/1",
    "duplicate_sop_instance": "another file has the same SOP Instance UID",
    "unreadable_annotation": "the annotation file cannot be parsed",
    "conversion_error": "an unexpected error while de-identifying (exception type in detail)",
}


class Quarantine(Exception):
    """An input that cannot be converted; `reason` is a key of REASONS."""

    def __init__(self, reason: str, detail: str = ""):
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


def read_radiograph(data: bytes) -> Dataset:
    """The parsed dataset of a single-frame greyscale CR/DX file whose pixels we can decode."""
    try:
        dataset = pydicom.dcmread(io.BytesIO(data))
    except InvalidDicomError:
        raise Quarantine("not_dicom") from None
    except Exception as error:  # pydicom raises many types for damaged files
        raise Quarantine("unreadable", type(error).__name__) from None
    if str(dataset.get("SOPClassUID", "")) not in RADIOGRAPHS:
        raise Quarantine("not_a_radiograph")
    if "PixelData" not in dataset:
        raise Quarantine("no_pixel_data")
    if int(dataset.get("NumberOfFrames", 1) or 1) > 1:
        raise Quarantine("multi_frame")
    if int(dataset.get("SamplesPerPixel", 1)) != 1 or dataset.get("PhotometricInterpretation") not in (
        "MONOCHROME1", "MONOCHROME2"
    ):
        raise Quarantine("colour")
    syntax = dataset.file_meta.get("TransferSyntaxUID", pydicom.uid.ImplicitVRLittleEndian)
    try:
        if not get_decoder(syntax).is_available:
            raise NotImplementedError
    except NotImplementedError:
        raise Quarantine("unsupported_transfer_syntax", str(syntax)) from None
    return dataset


def stored_pixels(dataset: Dataset) -> np.ndarray:
    """The stored values, decoded bit-exactly, with bits above Bits Stored cleared (old CR kept
    overlays there) and in little-endian order for the uncompressed output."""
    syntax = dataset.file_meta.get("TransferSyntaxUID", pydicom.uid.ImplicitVRLittleEndian)
    if not syntax.is_compressed:
        expected = int(dataset.Rows) * int(dataset.Columns) * int(dataset.BitsAllocated) // 8
        if len(dataset.PixelData) < expected:
            raise Quarantine("truncated")
    try:
        pixels = dataset.pixel_array
    except Exception as error:
        raise Quarantine("undecodable", type(error).__name__) from None
    if pixels.ndim != 2:
        raise Quarantine("colour")
    bits = int(dataset.BitsStored)
    if not int(dataset.PixelRepresentation) and bits < pixels.dtype.itemsize * 8:
        pixels = pixels & np.asarray((1 << bits) - 1, dtype=pixels.dtype)
    return pixels.astype(pixels.dtype.newbyteorder("<"), copy=False)
