"""Console text burned into the demo films: side markers, technique words and, on a few, PHI.

Real NICU exports carry a laterality marker ("L"/"R") on most films, a technique word
(PORTABLE, SUPINE, AP) on some, and on a few the patient's name, ID and a date as the console
prints them, while the header still says Burned In Annotation NO (notes 3.9). The deid stage
must mask the PHI and keep the markers, so the demo cohort holds both. Consoles burn text in at
one stored value, the display's brightest: the largest stored value, or the smallest for
MONOCHROME1. OpenCV's Hershey font drawn without anti-aliasing (LINE_8) gives exactly one value.
Labels sit in the image corners and never within `CLEAR_MM` of the lungs or the spine, so no
vertebra or lung label is covered. Everything comes from the image's "text" random stream.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools

import cv2
import numpy as np

from neovert.synth.anatomy import Scene
from neovert.synth.identity import Patient
from neovert.synth.imaging import StoredImage
from neovert.synth.primitives import Frame
from neovert.synth.profiles import VendorProfile

MARKER_SHARE = 0.80
TECHNIQUE_SHARE = 0.30
PHI_SHARE = 0.02
TECHNIQUE_WORDS = ("PORTABLE", "SUPINE", "AP")
# Cap heights: console text is 1.5-3 mm on the film; never under MIN_CAP_PX, as consoles print
# legibly whatever the spacing (and deid's text search starts at 8 px letters).
CAP_MM = {"marker": (2.5, 3.0), "technique": (2.0, 2.5), "phi": (1.8, 2.4)}
MIN_CAP_PX = 10
EDGE_MM = 3.0  # from the image border
CLEAR_MM = 3.0  # from the lungs, the spine and the other labels
DATE_FORMATS = ("%Y-%m-%d", "%Y.%m.%d", "%d/%m/%Y", "%Y%m%d")
_FONT = cv2.FONT_HERSHEY_SIMPLEX
# (top, left) flags of the four corners; a marker goes on its own side (patient left is image right)
CORNERS = ((True, True), (True, False), (False, True), (False, False))


@dataclasses.dataclass(frozen=True)
class Label:
    """Text to burn in: `layouts` are alternatives, each a tuple of lines, tried in order
    (a PHI line that fits nowhere is stacked instead)."""

    kind: str  # "marker", "technique" or "phi"
    layouts: tuple[tuple[str, ...], ...]
    cap_mm: float
    corners: tuple[tuple[bool, bool], ...]  # in order of preference


@dataclasses.dataclass(frozen=True)
class Burned:
    """A label as drawn: its ink box in pixels (x0, y0, x1, y1, end exclusive)."""

    kind: str
    text: str  # the lines joined by " / "
    box: tuple[int, int, int, int]


def choose(person: Patient, taken: dt.datetime, rng: np.random.Generator) -> list[Label]:
    """What this film carries, largest first (it needs the most room)."""
    labels = []
    if rng.random() < PHI_SHARE:
        labels.append(_phi_label(person, taken, rng))
    if rng.random() < MARKER_SHARE:
        side = str(rng.choice(["L", "R"]))
        left = side == "R"  # AP view: the patient's right is on the image left
        labels.append(Label("marker", ((side,),), rng.uniform(*CAP_MM["marker"]), ((True, left), (False, left))))
    if rng.random() < TECHNIQUE_SHARE:
        word = str(rng.choice(TECHNIQUE_WORDS))
        labels.append(Label("technique", ((word,),), rng.uniform(*CAP_MM["technique"]), _shuffled(rng)))
    return labels


def _phi_label(person: Patient, taken: dt.datetime, rng: np.random.Generator) -> Label:
    """Name, ID and date, or a non-empty part of them, as the console prints them: "NAME  ID  DATE"
    on one line, or one per line where that line fits in no corner."""
    fields = [str(rng.choice([person.dicom_name, person.plain_name])), person.key,
              taken.strftime(str(rng.choice(DATE_FORMATS)))]
    keep = rng.random(3) < 0.75
    keep[int(rng.integers(3))] = True
    lines = tuple(field for field, kept in zip(fields, keep) if kept)
    return Label("phi", (("  ".join(lines),), lines), rng.uniform(*CAP_MM["phi"]), _shuffled(rng))


def _shuffled(rng: np.random.Generator) -> tuple[tuple[bool, bool], ...]:
    return tuple(CORNERS[k] for k in rng.permutation(len(CORNERS)))


def burn(image: StoredImage, profile: VendorProfile, scene: Scene, frame: Frame,
         labels: list[Label]) -> tuple[StoredImage, list[Burned]]:
    """The image with `labels` drawn at the console's pen value, and where each went; a label
    that fits in none of its corners is left out."""
    pixels = image.pixels.copy()
    pen = 0 if profile.photometric == "MONOCHROME1" else 2**profile.bits_stored - 1
    clear = max(1, round(CLEAR_MM / frame.spacing))
    edge = round(EDGE_MM / frame.spacing)
    busy = _anatomy(scene, frame, clear)
    burned = []
    for label in labels:
        cap = max(MIN_CAP_PX, round(label.cap_mm / frame.spacing))
        placed = _place(busy, label, cap, edge)
        if placed is None:
            continue
        lines, ink, (x, y) = placed
        h, w = ink.shape
        pixels[y:y + h, x:x + w][ink] = pen
        busy[max(y - clear, 0):y + h + clear, max(x - clear, 0):x + w + clear] = True
        burned.append(Burned(label.kind, " / ".join(lines), (x, y, x + w, y + h)))
    return dataclasses.replace(image, pixels=pixels), burned


def _place(busy: np.ndarray, label: Label, cap: int, edge: int
           ) -> tuple[tuple[str, ...], np.ndarray, tuple[int, int]] | None:
    """The first layout and corner (in the label's order) where the ink box touches nothing busy."""
    rows, cols = busy.shape
    for lines in label.layouts:
        ink = _ink(lines, cap)
        h, w = ink.shape
        for top, left in label.corners:
            x, y = edge if left else cols - edge - w, edge if top else rows - edge - h
            if x >= 0 and y >= 0 and x + w <= cols and y + h <= rows and not busy[y:y + h, x:x + w].any():
                return lines, ink, (x, y)
    return None


def _anatomy(scene: Scene, frame: Frame, clear: int) -> np.ndarray:
    """Pixels within `clear` of the lungs or the spine (every drawn centrum and the discs
    between them)."""
    mask = np.zeros((frame.rows, frame.cols), dtype=np.uint8)
    for lung in scene.lungs:
        cv2.fillPoly(mask, [np.round(frame.to_pixels(np.array(lung.points))).astype(np.int32)], 1)
    centra = sorted(scene.vertebrae.values(), key=lambda blob: blob.cy)
    for upper, lower in zip(centra, centra[1:]):
        corners = frame.to_pixels(np.concatenate([upper.corners(), lower.corners()]))
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(corners).astype(np.int32)), 1)
    return cv2.dilate(mask, np.ones((2 * clear + 1, 2 * clear + 1), np.uint8)).astype(bool)


def _ink(lines: tuple[str, ...], cap: int) -> np.ndarray:
    """The lines' ink (left-aligned, 1.8 caps apart), cropped to it: letters `cap` pixels tall,
    strokes an eighth of that. Glyphs are set one by one with blank columns between them, as in
    the fixed-cell bitmap fonts of consoles; Hershey's own spacing lets neighbours touch at these
    sizes, which no console font does."""
    scale = cap / _cap_at_scale_one()
    thickness = max(1, round(cap / 8))
    advance = {c: cv2.getTextSize(c, _FONT, scale, thickness)[0][0] + thickness + 1 for c in set("".join(lines))}
    width = max(sum(advance[c] for c in line) for line in lines) + 2 * cap
    pitch = round(1.8 * cap)
    canvas = np.zeros((pitch * len(lines) + 2 * cap, width), dtype=np.uint8)
    for k, line in enumerate(lines):
        x = cap
        for char in line:
            cv2.putText(canvas, char, (x, 2 * cap + k * pitch), _FONT, scale, 255, thickness, cv2.LINE_8)
            x += advance[char]
    rows, cols = np.flatnonzero(canvas.any(axis=1)), np.flatnonzero(canvas.any(axis=0))
    return canvas[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] > 0


@functools.cache
def _cap_at_scale_one() -> int:
    """Height in pixels of a capital drawn at font scale 1 (21 px for Hershey simplex)."""
    canvas = np.zeros((64, 64), dtype=np.uint8)
    cv2.putText(canvas, "H", (8, 48), _FONT, 1.0, 255, 1, cv2.LINE_8)
    return int(np.flatnonzero(canvas.any(axis=1)).size)
