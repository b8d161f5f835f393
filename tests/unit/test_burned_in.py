"""`neovert.burned_in` on real radiograph pixels with text rendered into them.

Text is drawn with Pillow onto the stored values of pydicom-data's RG1 chest (MONOCHROME1, 15-bit),
deid-data's DX chest (MONOCHROME2, 12-bit) and a synthetic image, the way consoles burn labels in:
at a value as displayed (1.0 = white on screen, whatever the photometric interpretation), sometimes
on a label box. A planted PHI word counts as masked when its whole ink box was filled with the
image's darkest displayed value; the output is also read again with tesseract, independently of the
module's matching, to check no deny token can still be read.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw, ImageFont
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from neovert import burned_in

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def font(cap: int, face: str = "default") -> ImageFont.FreeTypeFont:
    """A font whose capital letters are `cap` pixels tall: Pillow's built-in scalable font, or
    DejaVu Sans (or its monospace cut) when Debian installed it."""
    path = {"dejavu": DEJAVU, "mono": DEJAVU.with_name("DejaVuSansMono.ttf")}.get(face)
    make = (lambda size: ImageFont.load_default(size=size)) if path is None or not path.exists() else \
        (lambda size: ImageFont.truetype(str(path), size))
    size = cap
    while True:
        bbox = make(size).getbbox("H")
        if bbox[3] - bbox[1] >= cap:
            return make(size)
        size += 1


@dataclass(frozen=True)
class Planted:
    text: str
    box: tuple[int, int, int, int]  # ink box x0, y0, x1, y1


def plant(pixels: np.ndarray, monochrome1: bool, text: str, xy: tuple[int, int], face: ImageFont.FreeTypeFont,
          contrast: float = 1.0, box: float | None = None, dark: bool = False) -> list[Planted]:
    """Draw `text` in place, white as displayed (black with `dark`), optionally on a label box at
    display level `box` (0 black, 1 white). `contrast` < 1 moves the text that fraction of the way
    from the local background (median under the text) to white or black: faint labels.
    Returns each word's ink box, measured on the rendered ink."""
    low, high = int(pixels.min()), int(pixels.max())
    to_stored = (lambda v: round(high - v * (high - low))) if monochrome1 else (lambda v: round(low + v * (high - low)))
    canvas = Image.new("L", (pixels.shape[1], pixels.shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    x0, y0, x1, y1 = map(int, draw.textbbox(xy, text, font=face))
    if box is not None:
        pad = max(4, (y1 - y0) // 3)
        pixels[max(y0 - pad, 0):y1 + pad, max(x0 - pad, 0):x1 + pad] = to_stored(box)
    under = np.median(pixels[y0:y1, x0:x1]) if y1 > y0 and x1 > x0 else low
    background = (high - under) / (high - low) if monochrome1 else (under - low) / (high - low)
    target = 0.0 if dark else 1.0
    draw.text(xy, text, fill=255, font=face)
    ink = np.asarray(canvas) > 96
    pixels[ink] = to_stored(background + contrast * (target - background))
    words, x, space = [], xy[0], face.getlength(" ")
    for word in text.split(" "):
        width = face.getlength(word)
        left, right = int(x - space / 2), int(x + width + space / 2)
        columns = np.flatnonzero(ink[:, max(left, 0):right].any(axis=0)) + max(left, 0)
        rows = np.flatnonzero(ink[:, max(left, 0):right].any(axis=1))
        if columns.size:
            words.append(Planted(word, (int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1)))
        x += width + space
    return words


def masked(out: np.ndarray, monochrome1: bool, word: Planted) -> bool:
    """The word's whole ink box holds the darkest displayed value (what `scrub` fills with)."""
    x0, y0, x1, y1 = map(int, word.box)
    dark = out.max() if monochrome1 else out.min()
    return bool(np.all(out[y0:y1, x0:x1] == dark))


def untouched(before: np.ndarray, out: np.ndarray, word: Planted) -> bool:
    x0, y0, x1, y1 = map(int, word.box)
    return bool(np.array_equal(before[y0:y1, x0:x1], out[y0:y1, x0:x1]))


def readable(out: np.ndarray, monochrome1: bool, tokens: list[str]) -> set[str]:
    """Deny tokens tesseract can read in `out` (plain substring of the squeezed text, two page
    modes), independently of the module's own matching."""
    import pytesseract

    gray = burned_in._display(out, monochrome1)
    text = " ".join(pytesseract.image_to_string(Image.fromarray(gray), config=f"--psm {psm}") for psm in (11, 6))
    squeezed = re.sub(r"[^A-Z0-9]", "", text.upper())
    return {t for t in tokens if len(t) >= 4 and t in squeezed}


def header() -> Dataset:
    ds = Dataset()
    ds.PatientName = "KOWALSKI^Annemarie^Joanna"
    ds.PatientID = "48213377"
    ds.AccessionNumber = "ACC9051234"
    ds.PatientBirthDate = "20230917"
    ds.StudyDate = "20231002"
    ds.InstitutionName = "Bergmannsheil Kinderklinik"
    ds.StationName = "NICU-DR2"
    ds.ReferringPhysicianName = "Oyelaran^Tobias"
    ds.OperatorsName = ["Lindqvist^Mette"]
    ds.OtherPatientIDsSequence = [Dataset()]
    ds.OtherPatientIDsSequence[0].PatientID = "H77-551902"
    return ds


def test_deny_tokens_split_names_and_render_dates():
    tokens = set(burned_in.deny_tokens(header()))
    assert {"KOWALSKI", "ANNEMARIE", "JOANNA", "OYELARAN", "TOBIAS", "LINDQVIST", "METTE",
            "BERGMANNSHEIL", "KINDERKLINIK", "NICUDR2", "48213377", "ACC9051234", "H77551902"} <= tokens
    assert {"20230917", "17092023", "09172023", "17SEP2023", "SEP172023", "20231002", "02102023"} <= tokens
    assert all(len(t) >= 3 and re.fullmatch(r"[A-Z0-9]+", t) for t in tokens)


def test_deny_tokens_fold_accents_and_skip_empty_fields():
    ds = Dataset()
    ds.PatientName = "Müller^Zoë"
    ds.PatientID = ""
    assert burned_in.deny_tokens(ds) == ["MULLER", "MULLERZOE", "ZOE"]


def rg1() -> tuple[np.ndarray, bool]:
    ds = pydicom.dcmread(get_testdata_file("RG1_UNCR.dcm"))
    return ds.pixel_array.copy(), ds.PhotometricInterpretation == "MONOCHROME1"


def cat() -> tuple[np.ndarray, bool]:
    import deid_data

    ds = pydicom.dcmread(Path(deid_data.__file__).parent / "data" / "animals" / "cat.dcm")
    return ds.pixel_array.copy(), ds.PhotometricInterpretation == "MONOCHROME1"


def synthetic() -> tuple[np.ndarray, bool]:
    """A smooth 12-bit chest-like picture with noise, MONOCHROME2."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:1200, 0:1400] / 1400.0
    picture = 1500 + 900 * np.exp(-((x - 0.5) ** 2) / 0.01) + 600 * np.sin(9 * y) ** 2
    return np.clip(picture + rng.normal(0, 40, picture.shape), 0, 4095).astype(np.uint16), False


def scenario(pixels: np.ndarray, mono1: bool) -> tuple[list[Planted], list[Planted]]:
    """PHI labels and benign markers at several sizes, contrasts, faces and positions."""
    rows, cols = pixels.shape
    phi = plant(pixels, mono1, "KOWALSKI, ANNEMARIE", (40, 40), font(28, "dejavu"), box=0.0)
    phi += plant(pixels, mono1, "ID 48213377", (40, 100), font(22, "mono"), box=0.0)
    phi += plant(pixels, mono1, "DOB 17.09.2023", (40, 150), font(18))
    phi += plant(pixels, mono1, "2023-10-02 Bergmannsheil", (cols // 3, rows - 90), font(16), contrast=0.6)
    phi += plant(pixels, mono1, "ACC9051234", (cols - 420, 60), font(44, "dejavu"), contrast=0.8)
    markers = plant(pixels, mono1, "R", (cols - 160, rows // 2), font(70, "dejavu"))
    markers += plant(pixels, mono1, "PORTABLE", (cols // 2, 40), font(24, "dejavu"), box=0.0)
    markers += plant(pixels, mono1, "AP SUPINE", (60, rows - 200), font(30))
    return [w for w in phi if w.text not in ("ID", "DOB")], markers


@pytest.mark.parametrize("image", [rg1, cat, synthetic], ids=["RG1-mono1", "cat-mono2", "synthetic"])
def test_phi_masked_markers_kept(image):
    pixels, mono1 = image()
    phi, markers = scenario(pixels, mono1)
    before = pixels.copy()
    deny = burned_in.deny_tokens(header())
    result = burned_in.scrub(pixels, deny, mono1)
    assert result.pixels.shape == before.shape and result.pixels.dtype == before.dtype
    assert np.array_equal(pixels, before), "scrub must not write into its input"
    assert result.doubtful == 0
    assert [w.text for w in phi if not masked(result.pixels, mono1, w)] == []
    assert [w.text for w in markers if not untouched(before, result.pixels, w)] == []
    assert result.kept_markers >= 3
    assert result.masked >= len(phi)
    assert not readable(result.pixels, mono1, deny)


def test_the_rereading_oracle_reads_the_planted_tokens():
    """Guards the check above: before scrubbing, the same oracle finds the planted PHI."""
    pixels, mono1 = synthetic()
    scenario(pixels, mono1)
    assert {"KOWALSKI", "48213377", "ACC9051234"} <= readable(pixels, mono1, burned_in.deny_tokens(header()))


def test_identifier_shapes_masked_without_a_deny_list():
    """Dates and long numbers are PHI whatever the header says (it may have been blanked)."""
    pixels, mono1 = synthetic()
    planted = plant(pixels, mono1, "03/11/2024", (80, 80), font(26, "dejavu"), box=0.0)
    planted += plant(pixels, mono1, "MRN 90817263", (80, 160), font(26, "dejavu"), box=0.0)
    planted += plant(pixels, mono1, "12 Mar 2024", (80, 240), font(26, "dejavu"), box=0.0)
    result = burned_in.scrub(pixels, [], mono1)
    assert [w.text for w in planted if w.text != "MRN" and not masked(result.pixels, mono1, w)] == []


def test_white_label_across_a_bone_is_found_on_its_own_value():
    """On cat.dcm the letters of this name touch the bright bone arcs they cross, and merge with
    them into one blob at every contrast margin: only the label's own stored value (the image's
    maximum, a rare one) separates them (seed 7 of bench/burned_in_recall.py missed it so)."""
    pixels, mono1 = cat()
    words = plant(pixels, mono1, "Z. OKONKWO", (560, 760), font(20, "dejavu"))
    assert int(pixels.max()) in burned_in._pen_values(pixels)
    out = burned_in.scrub(pixels, ["OKONKWO"], mono1)
    assert all(masked(out.pixels, mono1, w) for w in words) and out.doubtful == 0


def test_mask_follows_a_label_into_an_area_washed_out_to_its_shade():
    """Columns left of the label display within a few levels of its pen (an overexposed edge),
    where its first letters merge with the area; the mask grows over them, across a gap of
    partly visible letters, by at most `reach`, and not over columns of anatomy."""
    near = np.zeros((10, 40), bool)
    near[:, :12] = True  # washed out up to the label's first column, 12
    near[:3, 30:] = True  # right of the label: anatomy, near the shade in only 3 of 10 rows
    assert burned_in._into_washout(near, 12, 30, gap=2, reach=8) == (4, 30)
    assert burned_in._into_washout(near, 12, 30, gap=2, reach=20) == (0, 30)
    assert burned_in._into_washout(near, 15, 30, gap=4, reach=8) == (7, 30)  # across 3 columns of a letter
    assert burned_in._into_washout(near, 15, 30, gap=2, reach=8) == (15, 30)  # too far from the label
    assert burned_in._into_washout(np.zeros((10, 40), bool), 12, 30, gap=2, reach=8) == (12, 30)
    washed_in_parts = np.zeros((10, 60), bool)
    washed_in_parts[:, [33, 34, 35, 38, 39, 45]] = True  # a letter's strokes break the washed area
    assert burned_in._into_washout(washed_in_parts, 20, 30, gap=3, reach=20) == (20, 40)  # not over 40-44
    assert burned_in._into_washout(washed_in_parts, 20, 30, gap=3, reach=9) == (20, 39)  # nor past reach


def test_clipped_background_is_a_pen_of_last_resort():
    """cat.dcm's black surround (9% of its pixels at 0, in noise) is flagged clipped: its specks
    chain into rows at that value, looked at only where no other search found a row."""
    pixels, _ = cat()
    pens = burned_in._pen_values(pixels)
    assert pens[0] is True and pens[int(pixels.max())] is False


def test_label_spikes_on_its_tile_where_the_whole_histogram_drowns_it():
    """A dark label on a dark region whose value the image's darker half holds all over: no spike
    on the image's histogram, a clear one on its own tile's (seed 7 of the recall bench)."""
    rng = np.random.default_rng(11)
    pixels = np.where(np.arange(1400) < 700, rng.normal(16, 5, (1200, 1400)), rng.normal(60, 5, (1200, 1400)))
    pixels = np.clip(pixels, 1, 4000).astype(np.uint16)
    canvas = Image.new("L", (1400, 1200), 0)
    ImageDraw.Draw(canvas).text((900, 500), "MERCY CHILDRENS", fill=255, font=font(30, "dejavu"))
    pixels[np.asarray(canvas) > 96] = 16
    whole = np.bincount(pixels[::2, ::2].ravel())
    assert whole[16] < burned_in.PEN_SPIKE * np.median(whole[[13, 14, 15, 17, 18, 19]])
    assert burned_in._pen_values(pixels).get(16) is False


def test_label_running_into_a_saturated_area_is_masked():
    """White text at the value of the saturated area it runs into: its visible half, white on
    near-white, is shapes of the clipped value found last; its hidden half goes with it."""
    pixels, mono1 = synthetic()
    pixels[:, :500] = 4095  # an overexposed edge, 36% of the image
    pixels[:, 500:900] = np.clip(4000 + np.random.default_rng(5).normal(0, 12, (1200, 400)), 0, 4094)
    before = pixels.copy()
    words = plant(pixels, mono1, "L. DUBOIS 25.07.2018", (380, 600), font(26, "dejavu"))
    assert burned_in._pen_values(pixels)[4095] is True
    out = burned_in.scrub(pixels, ["DUBOIS"], mono1)
    changed = pixels != before
    assert np.all(out.pixels[changed] == out.pixels.min()) and out.doubtful == 0


def test_row_read_unsurely_as_markers_is_read_again_at_another_scale():
    """The picture OCR got of "ERECT" beside a fleck of its own value (recall bench, seed 7):
    tesseract reads "ERECT:" at 60 with 40 px characters, masked as a label not surely benign;
    with `RECHECK_CAP` px characters it reads "ERECT" at 87, and the marker is kept."""
    with Image.open(Path(__file__).parent / "data" / "erect_unsure.png") as picture:
        line = burned_in._Line((0, 0, 1, 1), 5, 990, picture.copy())
    first = burned_in._read(line)
    assert all(burned_in._marker(burned_in._norm(w.text)) for _, w in first) and not burned_in._benign(first)
    assert burned_in._benign(burned_in._read(line, burned_in.RECHECK_CAP / burned_in.OCR_CAP))


@pytest.mark.parametrize("image", [rg1, cat, synthetic],
                         ids=["RG1-mono1", "cat-mono2", "synthetic"])
def test_image_without_text_unchanged(image):
    pixels, mono1 = image()
    if image is cat:  # deid-data's film carries a burned-in "R" on a grey box: crop it away
        pixels = pixels[: pixels.shape[0] * 3 // 4]
    result = burned_in.scrub(pixels, burned_in.deny_tokens(header()), mono1)
    assert result.masked == 0 and result.doubtful == 0
    assert np.array_equal(result.pixels, pixels) and result.pixels.dtype == pixels.dtype


def test_low_confidence_identifier_is_doubtful():
    """A blurred, low-contrast number tesseract half-reads is neither trusted nor ignored."""
    from PIL import ImageFilter

    pixels, mono1 = synthetic()
    canvas = Image.new("L", (pixels.shape[1], pixels.shape[0]), 0)
    ImageDraw.Draw(canvas).text((100, 100), "48213377", fill=255, font=font(18))
    ink = np.asarray(canvas.filter(ImageFilter.GaussianBlur(2.2)), dtype=np.float64) / 255
    pixels = np.clip(pixels + ink * 1400, 0, 4095).astype(np.uint16)
    result = burned_in.scrub(pixels, [], mono1)
    assert result.masked + result.doubtful >= 1


def test_text_search_restores_opencv_threads():
    """One OpenCV thread is for the scrub only (the stage's process pool sets the parallelism):
    later OpenCV users get their thread count back."""
    import cv2

    threads = cv2.getNumThreads()
    with burned_in._one_thread():
        assert cv2.getNumThreads() == 1
    assert cv2.getNumThreads() == threads


def test_reading_noise_rows_prints_nothing(capfd):
    """Rows of noise make tesseract return word boxes without text; reading them must not write
    to stderr (a stage log would fill with it)."""
    rng = np.random.default_rng(3)
    noise = Image.fromarray(np.where(rng.random((60, 400)) < 0.15, 0, 255).astype(np.uint8))
    line = burned_in._Line((0, 0, 400, 60), 0, None, noise)
    assert all(word.text.strip() for _, word in burned_in._read(line))
    assert capfd.readouterr().err == ""
