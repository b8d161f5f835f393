"""Find and mask PHI burned into radiograph pixels (PS3.15 Clean Pixel Data, option 113101).

Header flags such as Burned In Annotation are unreliable, so every image is searched for text:
rows of character-sized blobs that stand out from their neighbourhood (`_text_lines`) are each
read with tesseract in single-line mode (`_read`). Consoles burn a label in at one stored value,
its pen; a row whose ink is mostly one value is taken as such a label and followed along that
value (`_pen_line`), which gives its exact ink and extent: characters a faint label shares with
the anatomy around them, its punctuation and an initial a word space away are found there. Rows
of bone texture and noise hold too little of their ink at one value to be taken for labels.

What is read is sorted into three kinds:

- PHI, masked: any word that matches the header's deny list (`deny_tokens`) allowing for OCR
  noise; anything shaped like a date, a run of 6+ digits or an ID (letters and 3+ digits); and,
  default-deny, any other word of 3+ letters read with high confidence that is not a benign
  marker (a mother's name or a ward the header does not carry is PHI too).
- benign radiographer markers (`MARKERS`), kept: laterality, projection, patient position and the
  like carry no identity and readers need them.
- doubtful: a row not drawn at one value (anti-aliased or lossy-compressed text) of `DOUBT_CHARS`+
  printed characters of which tesseract reads nothing with confidence (and not only markers).
  The caller quarantines the image rather than guess. Bone texture does not get this far: its
  blob rows stand too little out of the anatomy to be read.

Privacy comes first for labels drawn at one value: such a row is masked unless every word of it
is a marker read with confidence (at a second scale if the first reading is unsure), so a name
OCR misreads goes too. A masked row goes whole: its padded box is filled with the image's
darkest displayed value (the largest stored value for MONOCHROME1), so the result looks like an
ordinary black label box.

Text drawn at exactly the value of the region it sits on (white on a saturated area) is not in
the pixels at all and cannot be found. Where such text runs out of the saturated area, its
visible letters are shapes of the clipped value like the area's noise specks: they are looked
for last, in places no other search found a row, so that specks and the counters of letters on
a label box at that value do not shadow the labels found there first.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pydicom
import tesserocr
from PIL import Image
from scipy import ndimage, sparse
from scipy.sparse import csgraph

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

# Character blobs (`_text_lines`): heights in pixels, and the widest gap within a row, in heights.
MIN_CAP = 8
MAX_CAP = 120
GAP = 1.0
# Median distance, in 8-bit display levels, of a row's ink from its neighbourhood's mean for the
# row to be read: labels stand 40-230 levels out, rows of bone texture at most 29 (RG1, cat.dcm).
LINE_CONTRAST = 30
# Character height tesseract is given each row at (`_line`).
OCR_CAP = 40
# The second reading's cap height for a row read as markers only but not surely: at 28 px
# tesseract was sure of an "ERECT" it read at 60 at 40 px (seed 7).
RECHECK_CAP = 28
# A row tesseract cannot read is doubtful only with this many character blobs on its baseline:
# two or three blobs in a row are as often a fleck of noise as a short word.
DOUBT_CHARS = 4
# Tesseract's confidence (0-100) above which a word's reading is trusted as it stands.
SURE = 70
# Default deny for words in neither list needs more: 3+ letters read at 85+ (a noisy row's
# fragments read as short words at 60-70).
SURE_UNLISTED = 85
# Ink masks (`_text_lines`): neighbourhood width in pixels and the margin, in 8-bit display
# levels, by which ink must differ from its neighbourhood's mean.
LOCAL_WINDOW = 101
LOCAL_CONTRAST = 12
# A second, stricter margin: at LOCAL_CONTRAST the characters of a faint label on anatomy merge
# with the anatomy's own ink into blobs too big for characters; at this one they stand alone.
STRICT_CONTRAST = 30
# Labels drawn at one stored value, their pen (`_pen_line`): share of a row's ink at its commonest
# value for the row to be followed along it. A label's row holds most of its ink at its pen, less
# where anatomy ink joined it; rows of bone texture and noise at most a tenth (RG1, RG3, cat.dcm).
PEN_SHARE = 0.3
# Widest gap, in cap heights, between the shapes of one label: the word space after a full stop
# or comma is 1.2-1.25 caps in a monospace face ("R. DOE"), other gaps in labels under 0.75.
PEN_GAP = 1.5
# Shapes of the pen's value count as letters from half the row's cap height, as punctuation from a
# tenth of it each way (a full stop of a 12 px label is 2 px square).
LETTER = 0.5
PUNCTUATION = 0.1
# Most of the ring just outside a row at its pen value means the value is the background, not the
# ink: the counters of letters on a label box are shapes of the box's value in a row of their own.
PEN_BACKGROUND = 0.5
# Candidate pens (`_pen_values`): a stored value this many times commoner than the values next to
# it in a tile this many pixels square, with at least this many pixels in the every-other-pixel
# sample the histograms are taken on. A label drawn at one value is such a spike on its tile's
# smooth histogram. 40 text-free crops of RG1, RG3 and cat.dcm gave 104 spikes between them (one
# on the whole image's histogram); each costs a pass over its value, and none made a row that
# stands out (0 of 90 text-free crops masked, bench seeds 102, 7, 2026, 11, 31337).
PEN_SPIKE = 3
PEN_SPIKE_PIXELS = 20
PEN_TILE = 256
# A pen's letters differ from the other pixels of their row by this many display levels on average
# (`_stands_out`): specks of an extreme value in a noisy dark background chain into rows of that
# value too, but display within a level or two of the pixels around them; a dark name on a dark
# region stood 9.8 levels below it (seed 2026), white letters on a bright bone 16 above it.
PEN_CONTRAST = 8
# Widest blob of a pen's value, in heights: six touching digits of a 13 px stroke font are 4.7.
PEN_WIDEST = 8
# An extreme value covering more of the image than this is a clipped background (cat.dcm's black,
# 9%), whose noise specks chain into rows of that value; a label's ink is far less.
PEN_EXTREME_SHARE = 0.01
# How far, in cap heights, a label's mask follows it into an area washed out to its shade
# (`_into_washout`): a faded name's hidden part ran 2.6 caps into such an area (seed 7).
FADE = 4
# Characters tesseract swaps in radiograph fonts, folded to one form before comparing.
_FOLD = str.maketrans("OQIL|SBZ", "00111582")
_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{2,4}")
_PART_DATE = re.compile(r"\d[./-]\d")  # with 4+ digits: a date OCR read only half of
_MONTH_DATE = re.compile(r"\b(\d{1,2}\W?(%s)[A-Z]*\W?\d{2,4}|(%s)[A-Z]*\W?\d{1,2}\W{0,2}\d{4})\b"
                         % ("|".join(MONTHS), "|".join(MONTHS)))


@dataclass(frozen=True)
class Scrub:
    """The masked pixels and what OCR found; `doubtful` > 0 means the caller should quarantine.
    `masked` counts the words read in masked rows (a row OCR read nothing in counts one)."""

    pixels: np.ndarray
    masked: int
    words: int
    kept_markers: int
    doubtful: int


@dataclass(frozen=True)
class _Word:
    text: str  # as read, upper case
    conf: float


@dataclass(frozen=True)
class _Line:
    box: tuple[int, int, int, int]  # ink box x0, y0, x1, y1 in full-resolution pixels
    chars: int  # blobs on the row's baseline at its height (`_line`, `_pen_line`)
    pen: int | None  # the stored value its characters are drawn at, when drawn at one
    picture: Image.Image  # the row's ink, black on white, scaled for tesseract


def deny_tokens(dataset: pydicom.Dataset) -> list[str]:
    """PHI strings to look for, from the header before de-identification.

    Normalised to upper-case letters and digits only, as OCR loses punctuation and case; names split
    on ^ and spaces since a film shows "DOE JOHN" or "J. DOE", and kept whole for "DOE^JOHN";
    dates in the orders sites print them.
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
    deny_folded = sorted({t.translate(_FOLD) for t in deny}, key=len, reverse=True)
    out = pixels.copy()
    dark = pixels.max() if monochrome1 else pixels.min()
    masked = words = kept = doubtful = 0
    with _one_thread():
        lines = _text_lines(_display(pixels, monochrome1), pixels)
    for line in lines:
        read = _read(line)
        words += len(read)
        phi = _patterned(read) | _denied(read, deny_folded)
        markers = [w for _, w in read if _marker(_norm(w.text))]
        phi.update(i for i, w in read if w.conf >= SURE_UNLISTED and sum(c.isalpha() for c in _norm(w.text)) >= 3
                   and not _marker(_norm(w.text)))
        benign = _benign(read)
        if line.pen is not None and not phi and not benign and read and len(markers) == len(read):
            # tesseract's confidence swings with scale: a label read as markers only, but not
            # surely, gets a second reading at `RECHECK_CAP` px characters, kept if that one is sure
            benign = _benign(_read(line, RECHECK_CAP / OCR_CAP))
        if phi or (line.pen is not None and not benign):
            # OCR may split or drop letters of a row, and its word boxes on the scaled crop are
            # loose: a row that holds any PHI goes whole; so does a label drawn at one value that
            # does not read as markers only, whatever OCR made of it
            x0, y0, x1, y1 = _padded(line.box, pixels.shape)
            out[y0:y1, x0:x1] = dark
            masked += max(len(read), 1)
        elif line.chars >= DOUBT_CHARS and len(markers) < max(len(read), 1) and all(w.conf < SURE for _, w in read):
            # a row of printed characters tesseract cannot read with confidence may hide anything
            doubtful += 1
        else:
            kept += len(markers)
    return Scrub(out, masked, words, kept, doubtful)


def _text_lines(gray: np.ndarray, pixels: np.ndarray) -> list[_Line]:
    """Rows of character-sized blobs of ink brighter, or darker, than its neighbourhood. A global
    threshold loses labels on a radiograph's uneven background; against a local mean (a window
    wider than the largest letters' strokes) a label stands out wherever it sits, faint or on a
    bright bone. Tesseract on a whole radiograph skips whole labels and reads bone edges as words;
    finding the rows first and reading each alone (`_read`) is both more complete and cheaper.

    Labels drawn at one stored value are first looked for on that value alone (`_pen_values`):
    the image's extremes and its tiles' histogram spikes. On its own value a label stands apart
    even where a local mean loses it: white letters crossing a bright bone merge with the bone
    at any contrast margin, and a label below the display window is flat in the 8-bit image.
    A row of the contrast search whose ink is mostly one stored value is followed along that
    value (`_pen_line`) as well; rows found again inside one already followed are skipped. The
    ink is looked for at two margins, `LOCAL_CONTRAST` and `STRICT_CONTRAST`, as faint labels on
    anatomy only come apart from it at the second. Other rows, of text not drawn at one value,
    are kept when their ink stands `LINE_CONTRAST` from the local mean: bone texture crosses
    `LOCAL_CONTRAST` too, in blobs that chain into rows, but only just. Last, labels at an
    extreme a clipped background shares are looked for where no row was found."""
    local = _local_mean(gray)
    contrast = np.abs(gray - local)
    pens = _pen_values(pixels)
    drawn: list[_Line] = []
    for pen in (p for p, clipped in pens.items() if not clipped):
        drawn += _pen_lines(gray, pixels, pen, drawn)
    plain: list[tuple[np.ndarray, np.ndarray]] = []
    for margin in (LOCAL_CONTRAST, STRICT_CONTRAST):
        for ink in (gray > local + margin, gray < local - margin):
            boxes = _blobs(ink)
            for group in _rows(boxes):
                row = boxes[group]
                x0, y0, x1, y1 = _extent(row)
                if any(_overlap((x0, y0, x1, y1), line.box) for line in drawn):
                    continue
                within = ink[y0:y1, x0:x1]
                values, counts = np.unique(pixels[y0:y1, x0:x1][within], return_counts=True)
                line = None
                if counts.max() >= PEN_SHARE * counts.sum():
                    line = _pen_line(gray, pixels, row, values[counts.argmax()])
                if line is not None:
                    drawn.append(line)
                elif margin == LOCAL_CONTRAST and np.median(contrast[y0:y1, x0:x1][within]) >= LINE_CONTRAST:
                    plain.append((ink, row))
    lines = drawn + [_line(ink, row) for ink, row in plain
                     if not any(_overlap(_extent(row), line.box) for line in drawn)]
    for pen in (p for p, clipped in pens.items() if clipped):
        lines += _pen_lines(gray, pixels, pen, lines)
    return lines


def _local_mean(gray: np.ndarray) -> np.ndarray:
    """Mean of the `LOCAL_WINDOW` square around each pixel, as float32: scipy's uniform_filter
    with its default 'reflect' edges, ten times faster straight from uint8."""
    return cv2.boxFilter(gray, cv2.CV_32F, (LOCAL_WINDOW, LOCAL_WINDOW), borderType=cv2.BORDER_REFLECT)


def _pen_lines(gray: np.ndarray, pixels: np.ndarray, pen: int, found: list[_Line]) -> list[_Line]:
    """The labels drawn at stored value `pen` (`_pen_line`) that stand out from the pixels
    around them (`_stands_out`) and overlap no row in `found`."""
    lines: list[_Line] = []
    boxes = _pen_blobs(pixels, pen)
    for group in _rows(boxes):
        box = _extent(boxes[group])
        if _stands_out(gray, pixels, box, pen) and not any(_overlap(box, line.box) for line in found + lines):
            line = _pen_line(gray, pixels, boxes[group], pen)
            lines += [line] if line is not None else []
    return lines


def _pen_values(pixels: np.ndarray) -> dict[int, bool]:
    """Stored values a console may have drawn a label at, each with whether it is a clipped
    extreme. The image's extremes are candidates (labels are burned in at full white or black),
    and so are values `PEN_SPIKE` times commoner than most of their six nearest values in some
    `PEN_TILE` square: a label is a spike on its own tile's histogram even where the whole
    image's drowns it (a dark label on a dark region, where the image's darker regions hold
    its value too: seeds 7 and 2026). An extreme filling `PEN_EXTREME_SHARE` of the image is a
    clipped background as well (`_text_lines` looks there last). Histograms are taken on every
    other pixel of every other row: a label keeps hundreds of pixels there, and the count is
    four times cheaper; one band of tiles at a time, so each count fits in cache."""
    sample = pixels[::2, ::2]
    side = PEN_TILE // 2
    width = int(sample.max()) + 7  # a tile's histogram, with three empty bins on each side
    offsets = np.arange(sample.shape[1]) // side * width + 3
    spikes: set[int] = set()
    for top in range(0, sample.shape[0], side):
        counts = np.bincount((sample[top:top + side] + offsets).ravel(), minlength=int(offsets[-1]) + width)
        common = np.flatnonzero(counts >= PEN_SPIKE_PIXELS)
        neighbours = np.median([counts[common + k] for k in (-3, -2, -1, 1, 2, 3)], axis=0)
        spikes.update((common[counts[common] >= PEN_SPIKE * neighbours] % width - 3).tolist())
    whole = np.bincount(sample.ravel())
    low, high = (int(v) for v in np.flatnonzero(whole)[[0, -1]])
    pens = dict.fromkeys(spikes - {low, high}, False)
    pens.update({v: bool(whole[v] > PEN_EXTREME_SHARE * sample.size) for v in (low, high)})
    return dict(sorted(pens.items()))


def _stands_out(gray: np.ndarray, pixels: np.ndarray, box: tuple[int, int, int, int], pen: int) -> bool:
    """Whether the pen's pixels in `box` differ from the others there by `PEN_CONTRAST` display
    levels on average: rows of letters do, rows of noise specks at one value do not."""
    x0, y0, x1, y1 = box
    ink = pixels[y0:y1, x0:x1] == pen
    shown = gray[y0:y1, x0:x1]
    if not (ink.any() and (~ink).any()):
        return False
    return abs(float(shown[ink].mean()) - float(shown[~ink].mean())) >= PEN_CONTRAST


def _blobs(ink: np.ndarray) -> np.ndarray:
    """Boxes (x0, y0, x1, y1) of the ink's connected blobs of a character's height and shape."""
    return _character_sized(_boxes(ink, connectivity=4))


def _pen_blobs(pixels: np.ndarray, pen: int) -> np.ndarray:
    """`_blobs` of the pixels at stored value `pen`, labelled only in the bands of rows that hold
    the value: a label's value fills a few bands, and labelling costs as much per pixel of an
    empty row as of a full one. Up to `PEN_WIDEST` heights wide: a small stroke font's glyphs
    touch, and six digits of an ID make one blob (a run of one value is no bone texture)."""
    ink = pixels == pen
    rows = np.flatnonzero(ink.any(axis=1))
    breaks = np.flatnonzero(np.diff(rows) > 1)
    bands = zip(np.r_[rows[:1], rows[breaks + 1]], np.r_[rows[breaks], rows[-1:]] + 1)
    boxes = [_boxes(ink[top:bottom], connectivity=4, top=top) for top, bottom in bands if bottom - top >= MIN_CAP]
    return _character_sized(np.concatenate(boxes), PEN_WIDEST) if boxes else np.zeros((0, 4), np.int64)


def _character_sized(boxes: np.ndarray, widest: float = 4) -> np.ndarray:
    """Boxes of a character's height, at most `widest` heights wide and not a thin vertical line."""
    h, w = boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]
    return boxes[(h >= MIN_CAP) & (h <= MAX_CAP) & (w <= widest * h) & (w * 10 >= h)]


def _boxes(mask: np.ndarray, connectivity: int, top: int = 0) -> np.ndarray:
    """Boxes (x0, y0, x1, y1) of the mask's connected shapes in raster order, rows shifted by `top`
    (a band's first row). OpenCV labels a noisy radiograph's specks about twice as fast as
    scipy's `label`, but its own statistics cost three to four times its labelling: the boxes
    come from scipy's `find_objects` on its labels instead, the same boxes a quarter to a half
    faster in all (RG1's ink masks)."""
    _, labels = cv2.connectedComponents(mask.view(np.uint8), connectivity=connectivity)
    boxes = [(c.start, r.start + top, c.stop, r.stop + top) for r, c in ndimage.find_objects(labels)]
    return np.array(boxes, np.int64).reshape(-1, 4)


def _baseline_chars(boxes: np.ndarray) -> tuple[float, int]:
    """The row's cap height and how many of its boxes sit on a common baseline at a common
    height: printed text has many, bone texture rarely more than two."""
    heights = boxes[:, 3] - boxes[:, 1]
    cap = float(np.median(heights))
    base = float(np.median(boxes[:, 3]))
    return cap, int(np.sum((np.abs(boxes[:, 3] - base) <= 0.2 * cap) & (np.abs(heights - cap) <= 0.35 * cap)))


def _extent(boxes: np.ndarray) -> tuple[int, int, int, int]:
    x0, y0 = boxes[:, :2].min(axis=0)
    x1, y1 = boxes[:, 2:].max(axis=0)
    return int(x0), int(y0), int(x1), int(y1)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _pen_line(gray: np.ndarray, pixels: np.ndarray, row: np.ndarray, pen: int) -> _Line | None:
    """The label drawn at stored value `pen` that the blob `row` is part of, or None when the
    value's shapes there are no row of letters. Against a local mean a label's characters fall
    apart where they touch anatomy as bright as they are, and its punctuation is too small to be
    a blob; its pen value gives them all back: shapes of that value across the row's band are
    taken, from the row's own letters outwards, while they lie within `PEN_GAP` cap heights of
    the label so far: letters at the row's height, and punctuation on its baseline or just below
    (a comma). The ink OCR reads is that value's pixels too, free of the anatomy around."""
    cap = float(np.median(row[:, 3] - row[:, 1]))
    x0, y0, x1, y1 = _extent(row)
    top, bottom = max(int(y0 - cap / 2), 0), min(int(y1 + cap / 2) + 1, pixels.shape[0])
    shapes = _boxes(pixels[top:bottom] == pen, connectivity=8, top=top)
    h, w = shapes[:, 3] - shapes[:, 1], shapes[:, 2] - shapes[:, 0]
    level = np.minimum(shapes[:, 3], y1) - np.maximum(shapes[:, 1], y0)  # overlap with the row's height
    inside = (h <= 1.5 * cap) & (shapes[:, 1] > top) & (shapes[:, 3] < bottom)
    letter = inside & (h >= LETTER * cap) & (level * 2 >= h)
    mark = (inside & (h < LETTER * cap) & (h >= PUNCTUATION * cap) & (w >= PUNCTUATION * cap)
            & (shapes[:, 1] >= y0 - 0.2 * cap) & (shapes[:, 3] <= y1 + 0.4 * cap))
    taken = letter & (shapes[:, 0] < x1) & (shapes[:, 2] > x0)
    while taken.any():
        left, right = shapes[taken, 0].min() - PEN_GAP * cap, shapes[taken, 2].max() + PEN_GAP * cap
        more = (letter | mark) & ~taken & (shapes[:, 2] >= left) & (shapes[:, 0] <= right)
        if not more.any():
            break
        taken |= more
    letters = shapes[taken & letter]
    if len(letters) < 2:
        return None
    x0, y0, x1, y1 = _extent(shapes[taken])
    cap, chars = _baseline_chars(letters)
    pad = int(cap * 0.3) + 1
    crop = pixels[max(y0 - pad, 0):y1 + pad, max(x0 - pad, 0):x1 + pad] == pen
    if np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]]).mean() > PEN_BACKGROUND:
        return None
    # only the columns the mask may grow over are looked at, not the band's whole width
    reach = int(FADE * cap)
    left, right = max(x0 - reach, 0), x1 + reach
    shown = gray[y0:y1, left:right].astype(np.int16)
    shade = int(shown[pixels[y0:y1, left:right] == pen].max())  # the pen as displayed
    near = np.abs(shown - shade) <= LOCAL_CONTRAST
    grown = _into_washout(near, x0 - left, x1 - left, int(PEN_GAP * cap), reach)
    x0, x1 = grown[0] + left, grown[1] + left
    return _Line((x0, y0, x1, y1), chars, int(pen), _picture(crop, cap))


def _into_washout(near: np.ndarray, x0: int, x1: int, gap: int, reach: int) -> tuple[int, int]:
    """The row's columns grown on each side over an area washed out to about the pen's shade:
    columns of its band whose pixels mostly display within `LOCAL_CONTRAST` of it (`near`),
    followed from the row up to `reach` across gaps of up to `gap` columns. Where a label runs
    into such an area its last letters merge with it and are found by no search, yet parts of
    them still show, in the gaps and at the area's edge (the diagonal of an N that is half in
    the area breaks a washed stretch in two, seed 2026). Masking there costs next to nothing (the
    area is all but flat) and takes those letters too."""
    washed = near.mean(axis=0) >= PEN_BACKGROUND

    def grown(outward: np.ndarray) -> int:
        hits = np.flatnonzero(outward)
        breaks = np.flatnonzero(np.diff(np.r_[-1, hits]) > gap + 1)
        reached = hits[:breaks[0]] if breaks.size else hits
        return int(reached[-1]) + 1 if reached.size else 0

    return x0 - grown(washed[max(x0 - reach, 0):x0][::-1]), x1 + grown(washed[x1:x1 + reach])


def _rows(boxes: np.ndarray) -> list[list[int]]:
    """Indices of boxes chained into rows: neighbours of similar height that overlap vertically by
    half the smaller height, with a gap under `GAP` heights (letter and word spacing, not the space
    between two labels); rows of 2+ blobs, each in left-to-right order, rows ordered by their
    leftmost blob.

    Boxes sorted by left edge are compared with their k-th successor for k = 1, 2, ... at once
    (numpy over all boxes) until no box has a successor within reach, and the pairs that chain
    are joined as a graph's connected components: a noisy radiograph holds thousands of blobs."""
    order = np.argsort(boxes[:, 0], kind="stable")
    x0, y0, x1, y1 = boxes[order].T
    h = y1 - y0
    reach = x1 + GAP * h * 2.2
    first, second = [], []
    for k in range(1, len(order)):
        i = np.flatnonzero(x0[k:] <= reach[:-k])
        if not len(i):
            break
        j = i + k
        tall, short = np.maximum(h[i], h[j]), np.minimum(h[i], h[j])
        gap = x0[j] - x1[i]
        overlap = np.minimum(y1[i], y1[j]) - np.maximum(y0[i], y0[j])
        chained = (tall <= 2.2 * short) & (-0.3 * short <= gap) & (gap <= GAP * tall) & (overlap * 2 >= short)
        first.append(i[chained])
        second.append(j[chained])
    pairs = (np.concatenate(first), np.concatenate(second)) if first else (np.zeros(0, int), np.zeros(0, int))
    graph = sparse.coo_matrix((np.ones(len(pairs[0])), pairs), shape=(len(order), len(order)))
    _, component = csgraph.connected_components(graph, directed=False)
    groups: dict[int, list[int]] = {}
    for position, label in enumerate(component):
        groups.setdefault(int(label), []).append(int(order[position]))
    return [g for g in groups.values() if len(g) >= 2]


def _line(ink: np.ndarray, boxes: np.ndarray) -> _Line:
    """The row's box, its characters on a baseline (`_baseline_chars`) and its ink as OCR reads
    it (`_picture`)."""
    cap, chars = _baseline_chars(boxes)
    x0, y0, x1, y1 = _extent(boxes)
    pad = int(cap * 0.3) + 1
    crop = ink[max(y0 - pad, 0):y1 + pad, max(x0 - pad, 0):x1 + pad]
    return _Line((x0, y0, x1, y1), chars, None, _picture(crop, cap))


def _picture(crop: np.ndarray, cap: float) -> Image.Image:
    """Ink as black on white, scaled to `OCR_CAP` px characters with a white margin (tesseract
    reads lines best at 30-50 px)."""
    picture = _scaled(Image.fromarray(np.where(crop, 0, 255).astype(np.uint8)), OCR_CAP / cap)
    framed = Image.new("L", (picture.width + 40, picture.height + 40), 255)
    framed.paste(picture, (20, 20))
    return framed


def _scaled(picture: Image.Image, scale: float) -> Image.Image:
    """`picture` resized by `scale`, at least one pixel each way."""
    size = (max(int(picture.width * scale), 1), max(int(picture.height * scale), 1))
    return picture.resize(size, Image.Resampling.BILINEAR)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """One thread for OpenCV's labelling: the stage's process pool, not each library's own
    threads, decides how many cores are busy. The count is restored after, for later OpenCV users."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


def tessdata() -> Path:
    """The folder holding tesseract's English model: TESSDATA_PREFIX, else Debian's
    tesseract-ocr-eng (which `make setup` installs). The tesserocr wheel ships the engine only."""
    folders = [os.environ.get("TESSDATA_PREFIX", "")] + sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata"))
    for folder in folders:
        if folder and (Path(folder) / "eng.traineddata").is_file():
            return Path(folder)
    raise RuntimeError("burned-in text search needs tesseract's eng.traineddata: install Debian's "
                       "tesseract-ocr-eng or set TESSDATA_PREFIX to the folder that holds it")


@functools.cache
def _tesseract() -> tesserocr.PyTessBaseAPI:
    """One tesseract engine per process, loaded once, in single-line mode (psm 7). In-process
    through its C API it reads a row in about 10 ms; the command line cost 175 ms a row, most of
    it starting a process and loading the model each time. Not thread-safe: the stage
    parallelises over processes."""
    return tesserocr.PyTessBaseAPI(path=f"{tessdata()}/", lang="eng", psm=tesserocr.PSM.SINGLE_LINE)


def _read(line: _Line, scale: float = 1.0) -> list[tuple[int, _Word]]:
    """The line's words as tesseract reads them in its picture resized by `scale`, with its
    confidence (0-100) in each. Words are walked one by one rather than through
    MapWordConfidences, which prints to stderr for every word box without text (noise rows are
    full of them)."""
    engine = _tesseract()
    engine.SetImage(line.picture if scale == 1.0 else _scaled(line.picture, scale))
    engine.Recognize()
    words = []
    for word in tesserocr.iterate_level(engine.GetIterator(), tesserocr.RIL.WORD):
        try:
            text = word.GetUTF8Text(tesserocr.RIL.WORD)
        except RuntimeError:  # a word box with no text in it
            continue
        if text.strip():
            # whole points, as tesseract's own TSV output gives them: the thresholds were set on those
            words.append(_Word(text.upper(), float(int(word.Confidence(tesserocr.RIL.WORD)))))
    return list(enumerate(words))


def _benign(read: list[tuple[int, _Word]]) -> bool:
    """Whether a row reads as benign markers only, each read with confidence."""
    return bool(read) and all(_marker(_norm(w.text)) and w.conf >= SURE for _, w in read)


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
    extremes and saturates, which sharpens it), inverted for MONOCHROME1. Stored values are
    integers of at most 16 bits, so the window is computed once per value and looked up."""
    low, high = np.percentile(pixels[::4, ::4].astype(np.float32), (0.5, 99.5))
    first = int(pixels.min())
    values = np.arange(first, int(pixels.max()) + 1).astype(np.float32)
    table = np.clip((values - low) * (255.0 / max(high - low, 1.0)), 0, 255).astype(np.uint8)
    gray = table[np.subtract(pixels, first, dtype=np.int32)]
    return 255 - gray if monochrome1 else gray


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
        folded_digits = sum(c.isdigit() for c in re.sub(r"[^A-Z0-9]", "", folded))
        if (_DATE.search(folded) or (digits >= 4 and _PART_DATE.search(folded)) or folded_digits >= 6
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


def _contains(text: str, token: str) -> bool:
    """`token` occurs in `text` within `_slips(token)` edits, or `text` (5+ characters)
    is most of `token`, as when OCR drops the end of a word."""
    if not text:
        return False
    if token in text or (len(text) >= 5 and text in token and len(text) * 3 >= len(token) * 2):
        return True
    slips = _slips(token)
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


def _padded(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The row's box grown by a fifth of its height (it bounds the character blobs above the
    local-contrast margin; anti-aliased edges, accents and punctuation lie just outside), clipped
    to the image."""
    x0, y0, x1, y1 = box
    pad = 2 + (y1 - y0) // 5
    return max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, shape[1]), min(y1 + pad, shape[0])
