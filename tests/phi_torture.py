"""PHI torture corpus, byte-wise leak scanner and OCR check for the de-identification stage.

Why a generator and not fixed files: the stage must be judged on every hiding place PHI has in
real CR/DX deliveries at once (PN variants, foreign character sets, free text, nested and private
sequences, UN elements, overlays, curves, trailing padding, file meta, paths, burned-in text), and
each planted value must be a string so unlikely anywhere else that any occurrence in an output is
a leak, never a coincidence. Every token is a seeded random word or code, and every token knows
where it was planted, so a hit names the category and the place that leaked.

Dates cannot be made unlikely, so all planted dates fall in one 58-day window: any tool that
shifts dates by at least 62 days (neovert shifts by 365-1,095, dicognito by 62-730) cannot
produce a planted date by accident, and a date hit is a real leak too.

Used by tests/unit/test_deid_torture.py and bench/deid_anchors.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import random
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEG2000Lossless, RLELossless, generate_uid,
)

CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"
PRIVATE_CREATOR = "NEOVERT TORTURE 1"
DATE_WINDOW_DAYS = 58
CHARSETS = ("", "ISO_IR 100", ["", "ISO 2022 IR 149"], "ISO_IR 192")  # one per patient, cycled
ENCODINGS = ("ascii", "latin-1", "utf-8", "utf-16-le", "utf-16-be", "euc_kr")


@dataclass(frozen=True)
class Token:
    """One planted PHI string. `category` is the kind of PHI (name, id, date ...); `location`
    is `area:place` (e.g. `private:(0029,xx10)`), so a leak report can name both."""

    text: str
    category: str
    location: str

    @property
    def area(self) -> str:
        return self.location.split(":", 1)[0]


@dataclass(frozen=True)
class Hit:
    token: str
    category: str
    location: str
    file: str
    encoding: str


@dataclass
class PlantedFile:
    path: Path  # absolute input path
    patient_id: str
    tokens: list[Token]
    burned_in: list[Token]  # rendered into the pixels


@dataclass
class Corpus:
    root: Path
    input_dir: Path
    clinical: Path
    files: list[PlantedFile] = field(default_factory=list)

    @property
    def tokens(self) -> list[Token]:
        """Every planted token once per (text, location), over all files."""
        return sorted({t for f in self.files for t in f.tokens}, key=lambda t: (t.category, t.location, t.text))

    def by_category(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for token in self.tokens:
            out.setdefault(token.category, set()).add(token.text)
        return out


# ---------------------------------------------------------------------------------------------
# distinctive random strings


class _Words:
    """Seeded source of strings that occur nowhere by chance, never the same one twice."""

    def __init__(self, rng: random.Random):
        self.rng, self.used = rng, set()

    def _fresh(self, make) -> str:
        while (value := make()) in self.used:
            pass
        self.used.add(value)
        return value

    def word(self) -> str:
        """`Q` + four consonant-vowel syllables: 9 letters, pronounceable, OCR-friendly."""
        r = self.rng
        return self._fresh(lambda: r.choice("QXZJ") + "".join(
            r.choice("BDFGKLMNPRSTVW") + r.choice("AEIOU") for _ in range(4)))

    def code(self, letters: int = 2, digits: int = 7) -> str:
        r = self.rng
        return self._fresh(lambda: "".join(r.choice("KQXZ") for _ in range(letters))
                           + "".join(r.choice("0123456789") for _ in range(digits)))

    def digits(self, n: int) -> str:
        return self._fresh(lambda: str(self.rng.randint(1, 9)) + "".join(
            self.rng.choice("0123456789") for _ in range(n - 1)))

    def latin1(self) -> str:
        """A word with umlauts/accents (only characters Latin-1 can encode)."""
        letters = list(self.word())
        for position in (2, 6):
            letters[position] = self.rng.choice("ÄÖÜÉÈÅ")
        return "".join(letters)

    def korean(self) -> str:
        """Three Hangul syllables from the KS X 1001 set, so EUC-KR / ISO 2022 IR 149 encode them."""
        def make() -> str:
            raw = bytes(b for _ in range(3) for b in (self.rng.randint(0xB0, 0xC8), self.rng.randint(0xA1, 0xFE)))
            return raw.decode("euc_kr")
        return self._fresh(make)


@dataclass
class _Patient:
    index: int
    charset: object
    family: str
    given: str
    middle: str
    patient_id: str
    birth: dt.date
    extra: dict[str, str]  # further patient-level tokens, by location


def _patient(index: int, words: _Words, window: list[dt.date]) -> _Patient:
    charset = CHARSETS[index % len(CHARSETS)]
    family = words.latin1() if charset in ("ISO_IR 100", "ISO_IR 192") else words.word()
    extra = {name: words.word() for name in (
        "OtherPatientNames", "PatientBirthName", "PatientMotherBirthName", "ResponsiblePerson",
        "ResponsibleOrganization", "PatientAddress", "RegionOfResidence", "MedicalRecordLocator")}
    extra |= {"OtherPatientIDs": words.code(), "IssuerOfPatientID": words.word(),
              "OtherIssuer": words.word(), "PatientTelephoneNumbers": words.digits(11)}
    if charset == CHARSETS[2]:
        extra |= {"KoreanFamily": words.korean(), "KoreanGiven": words.korean()}
    birth = window[words.rng.randrange(DATE_WINDOW_DAYS - 20)]
    return _Patient(index, charset, family, words.word(), words.word(), words.code(), birth, extra)


# ---------------------------------------------------------------------------------------------
# one DICOM file


class _Planter:
    """Collects tokens while values are being set, so the record can never drift from the file."""

    def __init__(self) -> None:
        self.tokens: list[Token] = []

    def __call__(self, text: str, category: str, location: str) -> str:
        self.tokens.append(Token(text, category, location))
        return text

    def date(self, day: dt.date, location: str, fmt: str = "%Y%m%d") -> str:
        self.tokens.append(Token(day.isoformat(), "date", location))
        return day.strftime(fmt)


def _code_item(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "99TORTURE", meaning
    return item


def _patient_module(ds: Dataset, p: _Patient, plant: _Planter, second: bool) -> None:
    e = p.extra
    fam, giv, mid = (plant(v, "name", f"header:PatientName[{i}]") for i, v in
                     enumerate((p.family, p.given, p.middle)))
    name = f"{fam}^{giv}^{mid}" + ("^" if second else "")  # A^B^C in one file, A^B^C^ in the other
    if "KoreanFamily" in e:
        name = f"{fam}^{giv}^{mid}=={plant(e['KoreanFamily'], 'name', 'header:PatientName[phonetic]')}^" \
               f"{plant(e['KoreanGiven'], 'name', 'header:PatientName[phonetic]')}"
    ds.PatientName = name
    ds.PatientID = plant(p.patient_id, "id", "header:PatientID")
    ds.IssuerOfPatientID = plant(e["IssuerOfPatientID"], "id", "header:IssuerOfPatientID")
    ds.PatientBirthDate = plant.date(p.birth, "header:PatientBirthDate")
    ds.PatientBirthTime = "031500"
    ds.PatientSex = "F" if p.index % 2 else "M"
    ds.PatientAge = "003D"
    ds.PatientWeight = "1.2"
    other = Dataset()
    other.PatientID = plant(e["OtherPatientIDs"], "id", "sequence:OtherPatientIDsSequence>PatientID")
    other.IssuerOfPatientID = plant(e["OtherIssuer"], "id", "sequence:OtherPatientIDsSequence>IssuerOfPatientID")
    other.TypeOfPatientID = "TEXT"
    ds.OtherPatientIDsSequence = Sequence([other])
    # a family name with a space, and names given as "family alone"
    ds.OtherPatientNames = f"{plant(e['OtherPatientNames'], 'name', 'header:OtherPatientNames')} {fam}"
    ds.PatientBirthName = plant(e["PatientBirthName"], "name", "header:PatientBirthName")
    ds.PatientMotherBirthName = plant(e["PatientMotherBirthName"], "name", "header:PatientMotherBirthName") + "^"
    ds.ResponsiblePerson = plant(e["ResponsiblePerson"], "name", "header:ResponsiblePerson") + "^" + giv
    ds.ResponsiblePersonRole = "MOTHER"
    ds.ResponsibleOrganization = plant(e["ResponsibleOrganization"], "institution", "header:ResponsibleOrganization")
    ds.PatientAddress = f"12 {plant(e['PatientAddress'], 'contact', 'header:PatientAddress')} STREET"
    ds.RegionOfResidence = plant(e["RegionOfResidence"], "contact", "header:RegionOfResidence")
    ds.PatientTelephoneNumbers = plant(e["PatientTelephoneNumbers"], "contact", "header:PatientTelephoneNumbers")
    ds.MedicalRecordLocator = plant(e["MedicalRecordLocator"], "id", "header:MedicalRecordLocator")


def _study_module(ds: Dataset, w: _Words, plant: _Planter, days: list[dt.date]) -> None:
    study, content, acquired = days[:3]
    ds.StudyInstanceUID = plant(generate_uid(), "uid", "header:StudyInstanceUID")
    ds.SeriesInstanceUID = plant(generate_uid(), "uid", "header:SeriesInstanceUID")
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = plant.date(study, "header:StudyDate")
    ds.ContentDate = plant.date(content, "header:ContentDate")
    ds.AcquisitionDateTime = plant.date(acquired, "header:AcquisitionDateTime") + "083015.250000+0100"
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = "083015"
    ds.AccessionNumber = plant(w.code(3, 9), "id", "header:AccessionNumber")
    ds.StudyID = plant(w.code(1, 8), "id", "header:StudyID")
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.InstitutionName = plant(w.word(), "institution", "header:InstitutionName") + " CHILDRENS HOSPITAL"
    ds.InstitutionAddress = f"{plant(w.word(), 'institution', 'header:InstitutionAddress')} ALLEE 5"
    ds.InstitutionalDepartmentName = "NICU " + plant(w.word(), "institution", "header:InstitutionalDepartmentName")
    ds.StationName = plant(w.code(3, 5), "device", "header:StationName")
    ds.DeviceSerialNumber = plant(w.code(2, 10), "device", "header:DeviceSerialNumber")
    ds.Manufacturer, ds.ManufacturerModelName = "TORTURE", "SYNTH-XR"
    ds.ReferringPhysicianName = "^".join(plant(w.word(), "staff", "header:ReferringPhysicianName") for _ in "ab")
    ds.PerformingPhysicianName = plant(w.word(), "staff", "header:PerformingPhysicianName") + "^DR"
    ds.OperatorsName = [plant(w.word(), "staff", "header:OperatorsName") for _ in "ab"]
    ds.PhysiciansOfRecord = plant(w.word(), "staff", "header:PhysiciansOfRecord")
    ds.RequestingPhysician = plant(w.word(), "staff", "header:RequestingPhysician")
    ds.PerformedStationName = plant(w.code(3, 4), "device", "header:PerformedStationName")
    ds.PerformedLocation = plant(w.word(), "institution", "header:PerformedLocation")
    ds.ProtocolName = "CHEST " + plant(w.word(), "text", "header:ProtocolName")
    ds.AdmittingDiagnosesDescription = "RDS " + plant(w.word(), "text", "header:AdmittingDiagnosesDescription")


def _free_text(ds: Dataset, w: _Words, p: _Patient, plant: _Planter, days: list[dt.date]) -> None:
    """Names, IDs and dates written the way people type them into comment fields."""
    for value, category in ((p.family, "name"), (p.given, "name"), (p.patient_id, "id")):
        plant(value, category, "free_text:ImageComments")
    plant(p.patient_id, "id", "free_text:PatientComments")
    plant(p.extra["ResponsiblePerson"], "name", "free_text:AdditionalPatientHistory")
    ds.ImageComments = (f"Baby {p.family} {p.given}, MRN {p.patient_id}, seen by Dr "
                        f"{plant(w.word(), 'name', 'free_text:ImageComments')} on "
                        f"{plant.date(days[3], 'free_text:ImageComments', '%Y-%m-%d')}")
    ds.StudyDescription = f"CHEST AP {plant(w.word(), 'text', 'free_text:StudyDescription')}"
    ds.SeriesDescription = f"AP SUPINE {plant(w.word(), 'text', 'free_text:SeriesDescription')}"
    history = "free_text:AdditionalPatientHistory"
    ds.AdditionalPatientHistory = (f"GA 27+3, BW 890 g, born {plant.date(days[4], history, '%d.%m.%Y')} at "
                                   f"{plant(w.word(), 'institution', history)}; mother {p.extra['ResponsiblePerson']}")
    ds.RequestedProcedureDescription = (
        f"TUBE CHECK {plant(w.word(), 'text', 'free_text:RequestedProcedureDescription')} "
        f"{plant.date(days[5], 'free_text:RequestedProcedureDescription', '%d/%m/%Y')}")
    ds.PatientComments = f"Twin B of {plant(w.word(), 'name', 'free_text:PatientComments')}, ID {p.patient_id}"
    ds.DerivationDescription = f"processed for {plant(w.word(), 'staff', 'free_text:DerivationDescription')}"


def _nested(ds: Dataset, w: _Words, plant: _Planter, days: list[dt.date]) -> None:
    """Standard sequences to depth 3, with a private element inside a standard item."""
    request_at, context_at = "sequence:RequestAttributes>", "sequence:RequestAttributes>ScheduledProtocolCode>"
    person, when, note = Dataset(), Dataset(), Dataset()  # depth 3
    person.ValueType, when.ValueType, note.ValueType = "PNAME", "DATETIME", "TEXT"
    person.ConceptNameCodeSequence = Sequence([_code_item("121008", "Person Observer Name")])
    when.ConceptNameCodeSequence = Sequence([_code_item("111526", "DateTime Started")])
    note.ConceptNameCodeSequence = Sequence([_code_item("121106", "Comment")])
    person.PersonName = plant(w.word(), "staff", context_at + "ProtocolContext>PersonName") + "^NURSE"
    when.DateTime = plant.date(days[6], context_at + "ProtocolContext>DateTime") + "120000"
    note.TextValue = "called " + plant(w.word(), "text", context_at + "ProtocolContext>TextValue")
    protocol = _code_item("TORT1", "Chest " + plant(w.word(), "text", context_at + "CodeMeaning"))
    protocol.ProtocolContextSequence = Sequence([person, when, note])
    request = Dataset()  # depth 1
    request.RequestedProcedureID = plant(w.code(2, 6), "id", request_at + "RequestedProcedureID")
    request.ScheduledProcedureStepID = plant(w.code(2, 6), "id", request_at + "ScheduledProcedureStepID")
    request.ReasonForTheRequestedProcedure = plant(w.word(), "text", request_at + "ReasonForTheRequestedProcedure")
    request.ScheduledProtocolCodeSequence = Sequence([protocol])
    block = request.private_block(0x0029, PRIVATE_CREATOR, create=True)
    block.add_new(0x40, "LO", plant(w.word(), "name", "private:RequestAttributes>(0029,xx40)"))
    ds.RequestAttributesSequence = Sequence([request])
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    study.ReferencedSOPInstanceUID = plant(generate_uid(), "uid", "sequence:ReferencedStudySequence>ReferencedSOPInstanceUID")
    ds.ReferencedStudySequence = Sequence([study])
    view = _code_item("R-10206", "antero-posterior " + plant(w.word(), "name", "sequence:ViewCodeSequence>CodeMeaning"))
    view.ViewModifierCodeSequence = Sequence([_code_item(
        "R-10214", "supine " + plant(w.word(), "name", "sequence:ViewCodeSequence>ViewModifierCode>CodeMeaning"))])
    ds.ViewCodeSequence = Sequence([view])


def _private(ds: Dataset, w: _Words, plant: _Planter, days: list[dt.date]) -> None:
    """A vendor block with a name, a date, free text, a private SQ two deep and a UN element."""
    block = ds.private_block(0x0029, PRIVATE_CREATOR, create=True)
    block.add_new(0x10, "PN", "^".join(plant(w.word(), "name", "private:(0029,xx10) PN") for _ in "ab"))
    block.add_new(0x11, "DA", plant.date(days[7], "private:(0029,xx11) DA"))
    block.add_new(0x12, "LT", f"reported by {plant(w.word(), 'staff', 'private:(0029,xx12) LT')}")
    inner = Dataset()
    inner.private_block(0x0029, PRIVATE_CREATOR, create=True).add_new(
        0x10, "LO", plant(w.word(), "name", "private:(0029,xx20)>(0029,xx20)>(0029,xx10)"))
    outer = Dataset()
    outer_block = outer.private_block(0x0029, PRIVATE_CREATOR, create=True)
    outer_block.add_new(0x10, "LO", plant(w.code(2, 8), "id", "private:(0029,xx20)>(0029,xx10)"))
    outer_block.add_new(0x20, "SQ", Sequence([inner]))
    block.add_new(0x20, "SQ", Sequence([outer]))
    name = plant(w.word(), "name", "private:(0029,xx30) UN") + "^" + plant(w.word(), "name", "private:(0029,xx30) UN")
    block.add_new(0x30, "UN", (name + " " * (len(name) % 2)).encode("ascii"))


def _graphics(ds: Dataset, w: _Words, plant: _Planter, rows: int, cols: int) -> None:
    """Overlay plane 6000 (comments, label and a bitmap) and a retired curve in group 5000."""
    ds.add_new(0x60000010, "US", rows)
    ds.add_new(0x60000011, "US", cols)
    ds.add_new(0x60000022, "LO", plant(w.word(), "text", "overlay:(6000,0022) OverlayDescription"))
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", [1, 1])
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    ds.add_new(0x60001500, "LO", plant(w.word(), "name", "overlay:(6000,1500) OverlayLabel"))
    ds.add_new(0x60004000, "LT", f"checked by {plant(w.word(), 'staff', 'overlay:(6000,4000) OverlayComments')}")
    bits = np.zeros((rows, cols), dtype=np.uint8)
    bits[rows // 2: rows // 2 + 4, cols // 4: 3 * cols // 4] = 1
    ds.add_new(0x60003000, "OW", pydicom.pixels.pack_bits(bits.ravel()))
    points = np.array([[0, 0], [10, 5], [20, 8]], dtype="<u2").tobytes()
    ds.add_new(0x50000005, "US", 2)
    ds.add_new(0x50000010, "US", 3)
    ds.add_new(0x50000020, "CS", "POLY")
    ds.add_new(0x50000022, "LO", plant(w.word(), "text", "curve:(5000,0022) CurveDescription"))
    ds.add_new(0x50002500, "LO", plant(w.word(), "name", "curve:(5000,2500) CurveLabel"))
    ds.add_new(0x50003000, "OW", points)


def _font(lines: list[str], rows: int, cols: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled font at a cap height of ~17-30 px (0.7 x size), shrunk until every line
    fits the image width: text cut off at the edge would not test anything."""
    size = max(24, rows // 12)
    while size > 24 and max(ImageFont.load_default(size=size).getlength(t) for t in lines) > cols - 16:
        size -= 2
    return ImageFont.load_default(size=size)


def _pixels(rows: int, cols: int, bits: int, mono1: bool, burned: list[str], rng: np.random.Generator) -> np.ndarray:
    """A chest-like radiograph (dark lungs, bright spine) with high-contrast burned-in text
    (top left) and the benign markers "L" and "PORTABLE" (bottom right); bone is bright as
    displayed, so MONOCHROME1 stores the inverse."""
    top = 2 ** bits - 1
    y, x = np.mgrid[0:rows, 0:cols] / np.array([rows, cols])[:, None, None]
    image = 0.55 - 0.25 * (((x - 0.3) / 0.15) ** 2 + ((y - 0.55) / 0.3) ** 2 < 1)
    image -= 0.25 * (((x - 0.7) / 0.15) ** 2 + ((y - 0.55) / 0.3) ** 2 < 1)
    image += 0.3 * (np.abs(x - 0.5) < 0.04)
    image = np.clip(image + rng.normal(0, 0.02, image.shape), 0, 0.8)
    canvas = Image.new("L", (cols, rows), 0)
    draw = ImageDraw.Draw(canvas)
    font = _font(burned, rows, cols)
    size = font.size
    width = max(font.getlength(text) for text in burned)
    draw.rectangle((0, 0, int(width) + 12, int(len(burned) * size * 1.3) + 8), fill=1)
    for line, text in enumerate(burned):
        draw.text((6, 4 + line * size * 1.3), text, fill=2, font=font)
    small = ImageFont.load_default(size=max(16, rows // 20))
    draw.text((cols - 30, rows - 2.5 * size), "L", fill=2, font=font)
    draw.text((int(cols * 0.45), rows - 1.2 * size), "PORTABLE", fill=2, font=small)
    marks = np.asarray(canvas)
    image[marks == 1], image[marks == 2] = 0.0, 1.0
    stored = np.round(image * top).astype(np.uint16)
    return (top - stored).astype(np.uint16) if mono1 else stored


def _high_bit_overlay(ds: Dataset, pixels: np.ndarray, bits: int, text: str) -> np.ndarray:
    """A retired embedded overlay (plane 6002): `text` drawn into the first unused bit above
    BitsStored, invisible to a viewer that masks the high bits, plain to one that does not."""
    rows, cols = pixels.shape
    canvas = Image.new("1", (cols, rows), 0)
    ImageDraw.Draw(canvas).text((6, rows // 2), text, fill=1, font=_font([text], rows, cols))
    for element, vr, value in ((0x0010, "US", rows), (0x0011, "US", cols), (0x0040, "CS", "G"),
                               (0x0050, "SS", [1, 1]), (0x0100, "US", 16), (0x0102, "US", bits)):
        ds.add_new(0x60020000 | element, vr, value)
    return pixels | (np.asarray(canvas, dtype=np.uint16) << bits)


def _image_module(ds: Dataset, index: int, pixels: np.ndarray, bits: int, mono1: bool, rng: random.Random) -> None:
    dx = index % 2 == 1
    ds.SOPClassUID = DX_STORAGE if dx else CR_STORAGE
    ds.Modality = "DX" if dx else "CR"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.BodyPartExamined, ds.ViewPosition, ds.PatientOrientation = "CHEST", "AP", ["L", "F"]
    chest = Dataset()
    chest.CodeValue, chest.CodingSchemeDesignator, chest.CodeMeaning = "51185008", "SCT", "Thorax"
    ds.AnatomicRegionSequence = Sequence([chest])
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 16, bits, bits - 1
    ds.PhotometricInterpretation = "MONOCHROME1" if mono1 else "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.PixelRepresentation = 0
    spacing = [f"{rng.uniform(0.1, 0.2):.4f}"] * 2
    if dx:
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.PixelIntensityRelationship, ds.PixelIntensityRelationshipSign = "LOG", 1 if not mono1 else -1
        ds.DetectorType, ds.ImagerPixelSpacing = "SCINTILLATOR", spacing
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
        ds.ImageLaterality, ds.PositionerType = "U", ""
        ds.PresentationLUTShape = "INVERSE" if mono1 else "IDENTITY"
        ds.AcquisitionContextSequence = Sequence([])
    elif index % 4 == 0:
        ds.PixelSpacing = spacing
    else:
        ds.ImagerPixelSpacing = spacing
    ds.KVP, ds.ExposureTime, ds.XRayTubeCurrent = 60, 4, 200
    ds.WindowCenter, ds.WindowWidth = 2 ** (bits - 1), 2 ** bits
    ds.BurnedInAnnotation = "YES" if index % 3 == 0 else "NO"  # the header flag lies in 2 of 3 files
    ds.LossyImageCompression = "00"
    ds.PixelData = pixels.tobytes()


def _file_meta(ds: Dataset, w: _Words, plant: _Planter) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.SourceApplicationEntityTitle = plant(w.code(3, 6), "device", "file_meta:(0002,0016) SourceAETitle")
    meta.PrivateInformationCreatorUID = generate_uid()
    info = f"exported for {plant(w.word(), 'name', 'file_meta:(0002,0102) PrivateInformation')}"
    meta.PrivateInformation = (info + " " * (len(info) % 2)).encode("ascii")
    ds.file_meta = meta


def _transfer_syntax(index: int) -> str:
    return {1: RLELossless, 3: ImplicitVRLittleEndian, 4: JPEG2000Lossless}.get(index % 6, ExplicitVRLittleEndian)


def _write_file(index: int, p: _Patient, second: bool, w: _Words, rng: random.Random,
                window: list[dt.date], folder: Path) -> PlantedFile:
    plant = _Planter()
    days = rng.sample([d for d in window if d > p.birth], 8)  # distinct, all after the birth
    ds = Dataset()
    if p.charset:
        ds.SpecificCharacterSet = p.charset
    _patient_module(ds, p, plant, second)
    _study_module(ds, w, plant, days)
    _free_text(ds, w, p, plant, days)
    _nested(ds, w, plant, days)
    _private(ds, w, plant, days)
    ds.SOPInstanceUID = plant(generate_uid(), "uid", "header:SOPInstanceUID")
    rows, cols = rng.choice((256, 320, 384, 448, 512)), rng.choice((256, 320, 384, 448, 512))
    bits, mono1 = rng.randint(10, 15), index % 4 in (0, 1)
    burned = [p.family if p.family.isascii() else p.given, p.patient_id, days[0].strftime("%d.%m.%Y")]
    burned_tokens = [Token(burned[0], "name", "pixels:burned_in"), Token(burned[1], "id", "pixels:burned_in"),
                     Token(days[0].isoformat(), "date", "pixels:burned_in")]
    pixels = _pixels(rows, cols, bits, mono1, burned, np.random.default_rng(rng.getrandbits(32)))
    syntax = _transfer_syntax(index)
    if syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian) and bits <= 14:
        burned_tokens.append(Token(w.word(), "name", "pixels:overlay_in_high_bits"))
        pixels = _high_bit_overlay(ds, pixels, bits, burned_tokens[-1].text)
    _image_module(ds, index, pixels, bits, mono1, rng)
    _graphics(ds, w, plant, rows, cols)
    _file_meta(ds, w, plant)
    if syntax in (RLELossless, JPEG2000Lossless):
        ds.compress(syntax, generate_instance_uid=False)
    else:
        ds.file_meta.TransferSyntaxUID = syntax
    padding = f"\0\0{plant(w.word(), 'name', 'padding:(FFFC,FFFC) DataSetTrailingPadding')}\0\0"
    ds.add_new(0xFFFCFFFC, "OB", padding.encode("ascii") + bytes(len(padding) % 2))
    # folder <FAMILY>_<MRN> and file <GIVEN>_<DOB>_<word>.dcm, as sites really name them
    path_word = plant(w.word(), "name", "path:file_name")
    for token in ("family", "patient_id", "given"):
        plant(getattr(p, token), "name" if token != "patient_id" else "id", "path:folder_or_file_name")
    plant(p.birth.isoformat(), "date", "path:file_name")
    path = folder / f"{p.family}_{p.patient_id}" / f"{p.given}_{p.birth:%Y%m%d}_{path_word}.dcm"
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return PlantedFile(path, p.patient_id, plant.tokens + burned_tokens, burned_tokens)


def make_corpus(root: Path, n_files: int = 6, seed: int = 0) -> Corpus:
    """Write `n_files` torture radiographs under root/in (two per patient) and root/clinical.csv,
    whose family_id (PHI: a mother's record number) is shared by patients 2k and 2k+1, as twins.

    File i is CR for even i, DX for odd i; transfer syntaxes cycle through explicit VR, RLE,
    explicit, implicit VR, JPEG 2000 lossless, explicit; character sets cycle per patient through
    default, ISO_IR 100, ISO 2022 IR 149 (Korean) and ISO_IR 192.
    """
    rng = random.Random(seed)
    words = _Words(rng)
    start = dt.date(2016, 1, 1) + dt.timedelta(days=rng.randrange(5 * 365))
    window = [start + dt.timedelta(days=d) for d in range(DATE_WINDOW_DAYS)]
    root = Path(root)
    corpus = Corpus(root, root / "in", root / "clinical.csv")
    patients = [_patient(i, words, window) for i in range((n_files + 1) // 2)]
    for index in range(n_files):
        patient = patients[index // 2]
        corpus.files.append(_write_file(index, patient, index % 2 == 1, words, rng, window, corpus.input_dir))
    families = [words.code(3, 6) for _ in range((len(patients) + 1) // 2)]
    with corpus.clinical.open("w", newline="", encoding="utf-8") as handle:
        sheet = csv.writer(handle)
        sheet.writerow(["patient_key", "image_file", "ga_weeks", "bw_grams", "sex", "tube", "family_id"])
        for index, planted in enumerate(corpus.files):
            family = families[index // 4]  # two files per patient, two patients per family
            planted.tokens.append(Token(family, "id", "clinical:family_id"))
            sheet.writerow([planted.patient_id, planted.path.relative_to(corpus.input_dir).as_posix(),
                            f"{rng.uniform(23, 40):.1f}", rng.randint(450, 4000), rng.choice("MF"), rng.randint(0, 1),
                            family])
    return corpus


# ---------------------------------------------------------------------------------------------
# byte-wise scanner

_DATE_FORMATS = ("%Y%m%d", "%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%Y.%m.%d", "%Y/%m/%d", "%d-%m-%Y", "%m/%d/%Y")


def _variants(token: Token) -> set[str]:
    """Every spelling a leak of this token could take: all date formats; for accented or
    Hangul words also the case-folded and ASCII-transliterated forms (Ü -> U, UE)."""
    if token.category == "date":
        day = dt.date.fromisoformat(token.text)
        return {day.strftime(f) for f in _DATE_FORMATS}
    spellings = {token.text, token.text.upper(), token.text.lower()}
    if not token.text.isascii():
        folded = {unicodedata.normalize("NFKD", token.text).encode("ascii", "ignore").decode(),
                  re.sub("[ÄÖÜ]", lambda m: "AOU"["ÄÖÜ".index(m.group())] + "E", token.text)}
        spellings |= {s for s in folded if len(s) >= 6}
    return spellings


def _needles(tokens: Iterable[Token | str]) -> list[tuple[bytes, Token, str]]:
    """Lower-cased byte patterns per token text and encoding; the haystack is lower-cased too,
    which makes ASCII matching case-insensitive in every encoding listed (UTF-16 included).
    A text planted in several places becomes one token whose location lists all of them."""
    merged: dict[str, Token] = {}
    for token in tokens:
        token = token if isinstance(token, Token) else Token(token, "unknown", "unknown")
        if token.text in merged:
            known = merged[token.text]
            places = sorted(set(known.location.split("; ")) | {token.location})
            token = Token(token.text, known.category, "; ".join(places))
        merged[token.text] = token
    out = []
    for token in merged.values():
        seen = set()
        for spelling in sorted(_variants(token)):
            for encoding in ENCODINGS:
                try:
                    needle = spelling.encode(encoding).lower()
                except UnicodeEncodeError:
                    continue
                if needle not in seen:
                    seen.add(needle)
                    out.append((needle, token, encoding))
    return out


def scan_bytes(label: str, data: bytes, tokens: Iterable[Token | str], needles=None) -> list[Hit]:
    """Hits of any token in `data` (e.g. captured stdout/stderr); `label` names the source."""
    haystack, hits, found = data.lower(), [], set()
    for needle, token, encoding in needles or _needles(tokens):
        if token.text not in found and needle in haystack:
            found.add(token.text)
            hits.append(Hit(token.text, token.category, token.location, label, encoding))
    return hits


def scan_for_tokens(paths: list[Path], tokens: Iterable[Token | str]) -> list[Hit]:
    """Scan every byte of every file under `paths` (files or folders, walked recursively), the
    gunzipped content of `.gz` files, and every file and folder name relative to its folder."""
    tokens = list(tokens)
    needles = _needles(tokens)
    hits: list[Hit] = []
    for top in map(Path, paths):
        entries = sorted(top.rglob("*")) if top.is_dir() else [top]
        for entry in entries:
            name = entry.relative_to(top).as_posix() if top.is_dir() else entry.name
            hits += scan_bytes(f"{name} (path)", name.encode("utf-8"), tokens, needles)
            if not entry.is_file():
                continue
            data = entry.read_bytes()
            hits += scan_bytes(str(entry), data, tokens, needles)
            if entry.suffix == ".gz":
                hits += [Hit(h.token, h.category, h.location, h.file, h.encoding + "+gunzip")
                         for h in scan_bytes(str(entry), gzip.decompress(data), tokens, needles)]
    return hits


# ---------------------------------------------------------------------------------------------
# OCR of burned-in text


def _gray(path: Path) -> np.ndarray:
    """8-bit grey image as displayed (MONOCHROME1 inverted) from NIfTI, DICOM or a picture file."""
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz", ".mha", ".nrrd")):
        import SimpleITK as sitk

        array = sitk.GetArrayFromImage(sitk.ReadImage(str(path))).squeeze().astype(np.float64)
    elif name.endswith(".dcm"):
        ds = pydicom.dcmread(path)
        if ds.file_meta.TransferSyntaxUID.is_compressed or ds.BitsAllocated != 16:
            array = ds.pixel_array.astype(np.float64)
        else:  # raw words, so bits above BitsStored (embedded overlays) stay visible
            array = np.frombuffer(ds.PixelData, "<u2").reshape(ds.Rows, ds.Columns).astype(np.float64)
        if ds.PhotometricInterpretation == "MONOCHROME1":
            array = array.max() - array
    else:
        array = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
    low, high = float(array.min()), float(array.max())
    return np.round((array - low) / (high - low or 1) * 255).astype(np.uint8)


_LOOKALIKES = str.maketrans("0Q1L25S8", "OOIIZZSB")  # characters tesseract confuses in these fonts


def _fold(text: str) -> str:
    """Upper case, no white space, look-alike characters merged (Z/2, O/Q/0, I/L/1, S/5, B/8)."""
    return re.sub(r"\s+", "", text).upper().translate(_LOOKALIKES)


def _near(word: str, text: str) -> bool:
    """`word` occurs in `text` exactly, or (for words of 8+ characters) with one wrong character,
    since a token that OCR reads with one slip is still readable to a person."""
    if word in text:
        return True
    if len(word) < 8:
        return False
    return any(sum(a != b for a, b in zip(word, text[i:i + len(word)])) <= 1
               for i in range(len(text) - len(word) + 1))


def _renderings(gray: np.ndarray) -> list[np.ndarray]:
    """The image as is, plus black-on-white masks of its brightest and of its darkest levels:
    burned-in text is drawn at an extreme value, and on a busy background tesseract reads the
    mask where it misses the grey picture."""
    bright = gray >= 0.9 * np.percentile(gray, 99)
    dark = gray <= max(25.0, 1.1 * np.percentile(gray, 1))
    return [gray] + [np.where(mask, 0, 255).astype(np.uint8) for mask in (bright, dark)]


def ocr_tokens(image_paths: Iterable[Path], tokens: Iterable[Token | str]) -> list[Hit]:
    """Tokens that tesseract can still read in the images (see `_renderings`)."""
    import pytesseract

    tokens = [t if isinstance(t, Token) else Token(t, "unknown", "unknown") for t in tokens]
    hits = []
    for path in map(Path, image_paths):
        text = " ".join(pytesseract.image_to_string(Image.fromarray(picture), config="--psm 11")
                        for picture in _renderings(_gray(path)))
        squeezed = _fold(text)
        found = set()
        for token in tokens:
            if token.text in found:
                continue
            if any(_near(_fold(v), squeezed) for v in _variants(token)):
                found.add(token.text)
                hits.append(Hit(token.text, token.category, token.location, str(path), "ocr"))
    return hits
