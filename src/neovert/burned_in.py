"""Find and mask PHI burned into radiograph pixels (PS3.15 Clean Pixel Data, option 113101).

Header flags such as Burned In Annotation are unreliable, so every image is read with tesseract.
The displayed image and two local-contrast binarisations of it are read (`_renderings`), and
what is read is sorted into three kinds:

- PHI, masked: any word that matches the header's deny list (`deny_tokens`) allowing for OCR
  noise; anything shaped like a date, a run of 6+ digits or an ID (letters and 3+ digits); and,
  default-deny, any other word of 3+ letters read with high confidence that is not a benign
  marker (a mother's name or a ward the header does not carry is PHI too).
- benign radiographer markers (`MARKERS`), kept: laterality, projection, patient position and the
  like carry no identity and readers need them.
- doubtful: words read with low confidence that still look like identifiers (3+ digits, or a near
  miss of a deny token). The caller quarantines the image rather than guess; low-confidence words
  without that shape are what tesseract makes of ribs and edges, and are ignored.

Masking fills a padded word box with the image's darkest displayed value (the largest stored value
for MONOCHROME1), so the result looks like an ordinary black label box.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pydicom
import pytesseract
from PIL import Image
from scipy import ndimage

# Radiographer markers and technique words that identify nobody: laterality, projection, position,
# mobile/portable exams, beam, respiration, the body part, and the devices a neonatal film shows.
MARKERS = frozenset("""
L R LT RT LEFT RIGHT AP PA LAT LATERAL OBL OBLIQUE DECUB DECUBITUS LLD RLD
PORTABLE PORT MOBILE BEDSIDE SUPINE ERECT UPRIGHT SEMIERECT SITTING PRONE
HORIZONTAL BEAM HBL INSP INSPIRATION EXP EXPIRATION
CHEST ABDOMEN ABDO THORAX BABYGRAM CXR AXR XR ETT NGT UAC UVC
""".split())

# Header attributes whose values may be burned in; person names are split into their parts.
NAME_FIELDS = ("PatientName", "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName",
               "NameOfPhysiciansReadingStudy", "RequestingPhysician", "PatientMotherBirthName",
               "OtherPatientNames")
ID_FIELDS = ("PatientID", "OtherPatientIDs", "AccessionNumber", "StudyID", "IssuerOfPatientID",
             "DeviceSerialNumber")
PLACE_FIELDS = ("InstitutionName", "InstitutionalDepartmentName", "InstitutionAddress", "StationName")
DATE_FIELDS = ("PatientBirthDate", "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
MIN_TOKEN = 3  # shorter deny tokens (initials, "ST") would mask every marker and rib

# Tesseract page segmentation: 11 = sparse text, no layout assumed (bench/burned_in_recall.py --psm).
PSM = 11
# Tesseract's confidence (0-100) above which a word's reading is trusted as it stands.
SURE = 70
# Default deny for words in neither list needs more: 3+ letters read at 85+. Bone edges on the
# binarised renderings read as "WATT" or "REY" at 60-70 and as two-letter words at up to 90.
SURE_UNLISTED = 85
# Binarised renderings (`_renderings`): neighbourhood width in pixels and the margin, in 8-bit
# display levels, by which ink must differ from its neighbourhood's mean.
LOCAL_WINDOW = 101
LOCAL_CONTRAST = 12
# Characters tesseract swaps in radiograph fonts, folded to one form before comparing.
_FOLD = str.maketrans("OQIL|SBZ", "00111582")
_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{2,4}")
_PART_DATE = re.compile(r"\d[./-]\d")  # with 4+ digits: a date OCR read only half of
_MONTH_DATE = re.compile(r"\b(\d{1,2}\W?(%s)[A-Z]*\W?\d{2,4}|(%s)[A-Z]*\W?\d{1,2}\W{0,2}\d{4})\b"
                         % ("|".join(MONTHS), "|".join(MONTHS)))


@dataclass(frozen=True)
class Scrub:
    """The masked pixels and what OCR found; `doubtful` > 0 means the caller should quarantine."""

    pixels: np.ndarray
    masked: int
    words: int
    kept_markers: int
    doubtful: int


@dataclass(frozen=True)
class _Word:
    text: str  # as read, upper case
    conf: float
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in full-resolution pixels
    line: tuple[int, int, int, int]  # rendering, block, paragraph, line


def deny_tokens(dataset: pydicom.Dataset) -> list[str]:
    """PHI strings to look for, from the header before de-identification.

    Normalised to upper-case letters and digits only, as OCR loses punctuation and case; names split
    on ^ and spaces since a film shows "DOE JOHN" or "J. DOE", and kept whole for "DOE^JOHN"; dates in the orders sites print them.
    Tokens shorter than 3 characters are dropped: "JO" or "01" would match every film."""
    tokens: set[str] = set()
    for field in NAME_FIELDS + PLACE_FIELDS:
        for value in _values(dataset, field):
            tokens.add(_norm(value))
            tokens.update(_norm(part) for part in re.split(r"[\^\s,./\-]+", value))
    for field in ID_FIELDS:
        for value in _values(dataset, field):
            tokens.add(_norm(value))
    for item in dataset.get("OtherPatientIDsSequence", []):
        tokens.update(_norm(value) for value in _values(item, "PatientID"))
    for field in DATE_FIELDS:
        for value in _values(dataset, field):
            tokens.update(_date_forms(value))
    return sorted(t for t in tokens if len(t) >= MIN_TOKEN)


def scrub(pixels: np.ndarray, deny: list[str], monochrome1: bool) -> Scrub:
    """Mask the PHI burned into `pixels` (stored values); see the module docstring for the rules."""
    words = [word for n, picture in enumerate(_renderings(_display(pixels, monochrome1))) for word in _ocr(picture, n)]
    deny_folded = sorted({t.translate(_FOLD) for t in deny}, key=len, reverse=True)
    phi, markers, doubtful = set(), set(), set()
    for line in _lines(words):
        phi.update(_patterned(line))
        phi.update(_denied(line, deny_folded))
    for index, word in enumerate(words):
        text = _norm(word.text)
        if index in phi or not text:
            continue
        if _marker(text):
            markers.add(index)
        elif word.conf >= SURE_UNLISTED and sum(c.isalpha() for c in text) >= 3:
            phi.add(index)
        elif word.conf < SURE and _identifier_like(text, deny_folded):
            doubtful.add(index)
    out = pixels.copy()
    dark = pixels.max() if monochrome1 else pixels.min()
    boxes = [_padded(words[index].box, pixels.shape) for index in phi]
    for x0, y0, x1, y1 in boxes:
        out[y0:y1, x0:x1] = dark
    # a word one rendering doubted but another read and masked is settled
    doubtful = {i for i in doubtful if not any(_overlap(words[i].box, box) > 0.5 for box in boxes)}
    markers = {i for i in markers if not any(_overlap(words[i].box, box) > 0.5 for box in boxes)}
    return Scrub(out, _distinct(words, phi), _distinct(words, range(len(words))),
                 _distinct(words, markers), _distinct(words, doubtful))


def _renderings(gray: np.ndarray) -> list[np.ndarray]:
    """The displayed image, plus black-on-white binarisations of what is brighter and of what is
    darker than its neighbourhood. Tesseract thresholds a page globally, which loses labels on a
    radiograph's uneven background; against a local mean (a window wider than the largest
    letters' strokes) a label stands out wherever it sits, faint or on a bright bone."""
    local = ndimage.uniform_filter(gray.astype(np.float32), size=LOCAL_WINDOW)
    bright = np.where(gray > local + LOCAL_CONTRAST, 0, 255).astype(np.uint8)
    dark = np.where(gray < local - LOCAL_CONTRAST, 0, 255).astype(np.uint8)
    return [gray, bright, dark]


def _overlap(box: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> float:
    """Share of `box` covered by `other`."""
    w = min(box[2], other[2]) - max(box[0], other[0])
    h = min(box[3], other[3]) - max(box[1], other[1])
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1)
    return max(w, 0) * max(h, 0) / area


def _distinct(words: list[_Word], indices) -> int:
    """How many of these words are different words on the film: the renderings read the same
    label several times, so a box mostly inside one already counted is not counted again."""
    counted: list[tuple[int, int, int, int]] = []
    for index in indices:
        box = words[index].box
        if not any(_overlap(box, seen) > 0.5 or _overlap(seen, box) > 0.5 for seen in counted):
            counted.append(box)
    return len(counted)


def _marker(text: str) -> bool:
    """A benign marker, or 3+ letters of one (tesseract splits "PORTABLE" into "PORTA" "BLE")."""
    return text in MARKERS or (len(text) >= 3 and any(text in marker for marker in MARKERS))


def _values(dataset: pydicom.Dataset, field: str) -> list[str]:
    value = dataset.get(field)
    if value is None or value == "":
        return []
    items = value if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else [value]
    return [str(item) for item in items if str(item).strip()]


def _norm(text: str) -> str:
    """Upper case, accents dropped (the English model reads "Müller" as "MULLER"), letters and
    digits only."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Z0-9]", "", plain.upper())


def _date_forms(value: str) -> set[str]:
    """YYYYMMDD rendered as sites print it, normalised: 20110106, 06012011 (DD.MM.YYYY),
    01062011 (MM/DD/YYYY), 060111 / 010611 / 110106 (two-digit years), 06JAN2011, JAN062011."""
    digits = re.sub(r"\D", "", value)[:8]
    if len(digits) != 8:
        return set()
    year, month, day = digits[:4], digits[4:6], digits[6:]
    if not 1 <= int(month) <= 12:
        return {digits}
    name = MONTHS[int(month) - 1]
    forms = {year + month + day, day + month + year, month + day + year, day + month + year[2:],
             month + day + year[2:], year[2:] + month + day, day + name + year, name + day + year,
             day.lstrip("0") + name + year, name + day.lstrip("0") + year, day + name + year[2:]}
    return {f for f in forms if len(f) >= 6}


def _display(pixels: np.ndarray, monochrome1: bool) -> np.ndarray:
    """8-bit image as a reader sees it: a 0.5-99.5 percentile window (burned-in text sits at the
    extremes and saturates, which sharpens it), inverted for MONOCHROME1."""
    values = pixels.astype(np.float32)
    low, high = np.percentile(values[::4, ::4], (0.5, 99.5))
    gray = np.clip((values - low) * (255.0 / max(high - low, 1.0)), 0, 255).astype(np.uint8)
    return 255 - gray if monochrome1 else gray


def _ocr(gray: np.ndarray, rendering: int = 0) -> list[_Word]:
    """Words tesseract finds in sparse-text mode (`PSM`: no page layout assumed, which suits a few
    labels scattered over an image). OMP_THREAD_LIMIT=1 because the stage's process pool, not
    tesseract's threads, decides how many cores are busy."""
    os.environ["OMP_THREAD_LIMIT"] = "1"
    data = pytesseract.image_to_data(Image.fromarray(gray), config=f"--psm {PSM}",
                                     output_type=pytesseract.Output.DICT)
    words = []
    for i, text in enumerate(data["text"]):
        if data["level"][i] != 5 or not text.strip():
            continue
        x, y, w, h = data["left"][i], data["top"][i], data["width"][i], data["height"][i]
        words.append(_Word(text.upper(), float(data["conf"][i]), (x, y, x + w, y + h),
                           (rendering, data["block_num"][i], data["par_num"][i], data["line_num"][i])))
    return words


def _lines(words: list[_Word]) -> list[list[tuple[int, _Word]]]:
    """Words grouped by tesseract's text line, in reading order, with their indices."""
    lines: dict[tuple, list[tuple[int, _Word]]] = {}
    for index, word in enumerate(words):
        lines.setdefault(word.line, []).append((index, word))
    return [sorted(line, key=lambda item: item[1].box[0]) for line in lines.values()]


def _patterned(line: list[tuple[int, _Word]]) -> set[int]:
    """Indices of words in a date (numeric, half read, or with a month name, possibly split over
    words), or holding a 6+ digit run or an ID (letters with 3+ digits), whatever the header says."""
    hits = set()
    spans, text = [], ""
    for index, word in line:
        spans.append((len(text), len(text) + len(word.text), index))
        text += word.text + " "
    for match in _MONTH_DATE.finditer(text):
        hits.update(i for start, end, i in spans if start < match.end() and end > match.start())
    for index, word in line:
        raw = word.text
        digits = sum(c.isdigit() for c in raw)
        if digits < 2:
            continue
        folded = raw.translate(_FOLD)
        alnum = re.sub(r"[^A-Z0-9]", "", raw)
        if (_DATE.search(folded) or (digits >= 4 and _PART_DATE.search(folded)) or sum(c.isdigit() for c in re.sub(r"[^A-Z0-9]", "", folded)) >= 6
                or (digits >= 3 and len(alnum) >= 5 and any(c.isalpha() for c in alnum))):
            hits.add(index)
    return hits


def _denied(line: list[tuple[int, _Word]], deny: list[str]) -> set[int]:
    """Indices of words that, alone or joined with their neighbours (OCR splits "06 01 2011" and
    "DOE-SMITH"), contain a deny token with at most one slip (two for tokens of 10+ characters);
    tokens under 5 characters must match exactly."""
    hits = set()
    folded = [_norm(word.text).translate(_FOLD) for _, word in line]
    for start in range(len(line)):
        for stop in range(start + 1, min(start + 4, len(line) + 1)):
            joined = "".join(folded[start:stop])
            if any(_contains(joined, token) for token in deny):
                hits.update(index for index, _ in line[start:stop])
                break
    return hits


def _slips(token: str) -> int:
    return 0 if len(token) < 5 else 1 if len(token) < 10 else 2


def _contains(text: str, token: str, extra: int = 0) -> bool:
    """`token` occurs in `text` within `_slips(token)` (+ `extra`) edits, or `text` (5+ characters)
    is most of `token`, as when OCR drops the end of a word."""
    if not text:
        return False
    if token in text or (len(text) >= 5 and text in token and len(text) * 3 >= len(token) * 2):
        return True
    slips = _slips(token) + extra
    return slips > 0 and len(text) >= len(token) - slips and _substring_distance(token, text) <= slips


def _substring_distance(pattern: str, text: str) -> int:
    """Fewest edits that turn `pattern` into some substring of `text` (Sellers' algorithm)."""
    previous = [0] * (len(text) + 1)
    for i, p in enumerate(pattern, 1):
        current = [i] + [0] * len(text)
        for j, t in enumerate(text, 1):
            current[j] = min(previous[j - 1] + (p != t), previous[j] + 1, current[j - 1] + 1)
        previous = current
    return min(previous)


def _identifier_like(text: str, deny: list[str]) -> bool:
    """A low-confidence reading that could hide an identifier: 3+ digits, or a deny token read
    with one slip more than `_denied` allows (letters are not folded into digits here: ribs read
    as "SIS" would otherwise count as numbers)."""
    if sum(c.isdigit() for c in text) >= 3:
        return True
    folded = text.translate(_FOLD)
    return len(folded) >= 5 and any(_contains(folded, token, extra=1) for token in deny)


def _padded(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The word box grown by a fifth of its height (tesseract's boxes hug the ink; anti-aliased
    edges and accents lie just outside), clipped to the image."""
    x0, y0, x1, y1 = box
    pad = 2 + (y1 - y0) // 5
    return max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, shape[1]), min(y1 + pad, shape[0])
