"""Seeded random streams and deterministic identifiers.

Every random value comes from a stream keyed by (master seed, hospital, patient, image), so
an image does not depend on which worker draws it or in what order: same seed, same bytes.
Numpy pads short SeedSequence entropy with zeros, so [seed, h, p] would equal the stream of
image 0 of that patient; the hospital and patient streams therefore carry a tag word that no
patient or image index can take.
"""

from __future__ import annotations

import enum

import numpy as np
from pydicom.uid import UID, generate_uid


class Stream(enum.IntEnum):
    """Tags for the non-image streams; image and patient indices never get this large."""

    COHORT = 0x7FFF0001  # per hospital: patient sizes, order, tube flags
    STAFF = 0x7FFF0002  # per hospital: physicians, operators, device serial
    CLINICAL = 0x7FFF0003  # per patient: GA, BW, sex, days of life
    IDENTITY = 0x7FFF0004  # per patient: name, birth date
    FAMILY = 0x7FFF0005  # per hospital: which patients are twins


# Image streams are split by concern so that a later change to, say, the imaging chain does
# not reshuffle the anatomy of every image; new concerns go at the end (spawned children are
# numbered, so the earlier streams stay as they were).
IMAGE_CONCERNS = ("anatomy", "framing", "imaging", "texture", "noise", "header", "devices", "text")


def hospital_rng(seed: int, hospital_index: int, stream: Stream) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, hospital_index, int(stream), 0]))


def patient_rng(seed: int, hospital_index: int, patient_index: int, stream: Stream) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, hospital_index, patient_index, int(stream)]))


def image_rngs(
    seed: int, hospital_index: int, patient_index: int, image_index: int
) -> dict[str, np.random.Generator]:
    """One independent generator per concern, all children of the image's SeedSequence."""
    root = np.random.SeedSequence([seed, hospital_index, patient_index, image_index])
    children = root.spawn(len(IMAGE_CONCERNS))
    return {name: np.random.default_rng(child) for name, child in zip(IMAGE_CONCERNS, children)}


def uid(seed: int, hospital: str, patient_index: int, image_index: int, kind: str) -> UID:
    """Deterministic UID under pydicom's root.

    pydicom hashes the concatenation of the sources, so each source is labelled to keep
    ("1", "23") and ("12", "3") apart.
    """
    return generate_uid(
        entropy_srcs=[
            f"neovert.synth|seed={seed}|",
            f"hospital={hospital}|",
            f"patient={patient_index}|",
            f"image={image_index}|",
            f"kind={kind}",
        ]
    )
