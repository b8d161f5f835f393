"""Recall of `neovert.burned_in` on a synthetic burned-in set (deid.md §6 goal 4).

Each image is a crop of a real chest (pydicom-data RG1 and RG3, CR MONOCHROME1; deid-data's DX
cat.dcm, MONOCHROME2), in its own or the opposite polarity (stored values inverted and the
photometric interpretation flipped), with PHI from a random header and benign markers rendered as
consoles do: cap heights 12-80 px, three faces, full or faint contrast (a fraction of the way from
the local background), light or dark, on a label box or straight on the anatomy. Text-free crops
measure false masks. Figures:

- PHI-token recall: planted PHI words whose every pixel that planting changed was masked, or
  whose image was flagged doubtful (the caller quarantines it); goal >= 99.5%. A word drawn at the
  very values already under it (white on a saturated area) changed no pixel and is not in the
  image at all: such words are counted apart (`phi_not_in_pixels`) and left out of the recall.
  The older, stricter score (the whole ink box masked, invisible parts included) is kept as
  `phi_recall_whole_box`;
- benign-marker retention: marker ink boxes left bit-exact; goal >= 95%;
- false masks / quarantines on text-free crops, and seconds per image (OCR included).

Writes benchmarks/burned_in_recall.json. Usage: python bench/burned_in_recall.py [--images N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from neovert import burned_in  # noqa: E402
from tests.unit.test_burned_in import font, masked, plant, untouched  # noqa: E402

SOURCES = {"RG1": get_testdata_file("RG1_UNCR.dcm"), "RG3": get_testdata_file("RG3_UNCR.dcm"),
           "cat": str(Path(__import__("deid_data").__file__).parent / "data" / "animals" / "cat.dcm")}
FAMILIES = ["KOWALSKI", "NGUYEN", "OKONKWO", "FITZGERALD", "BERGSTROM", "HADDAD", "MORETTI", "SCHNEIDER",
            "ABERNATHY", "DUBOIS", "VASQUEZ", "PETROV", "LINDQVIST", "OYELARAN", "MACKENZIE", "WOJCIK"]
GIVENS = ["ANNEMARIE", "TOBIAS", "MATEO", "AMARA", "FREDERIK", "LUCIA", "KWAME", "SOPHIE", "IBRAHIM",
          "HELENA", "ELIJAH", "NAOMI", "RAPHAEL", "ZOFIA", "OLIVER", "YASMIN"]
PLACES = ["BERGMANNSHEIL", "KINDERKLINIK", "ST GEORGES", "ROYAL INFIRMARY", "MERCY CHILDRENS", "SANKT MARIEN"]
MARKER_TEXTS = ["L", "R", "AP", "PA", "PORTABLE", "SUPINE", "ERECT", "LAT", "AP SUPINE", "PORTABLE AP"]
LABELS = {"ID", "DOB", "MRN", "ACC", "DATE"}  # field labels: neither PHI nor markers, not scored


def sources() -> dict[str, tuple[np.ndarray, bool]]:
    out = {}
    for name, path in SOURCES.items():
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array & np.uint16((1 << int(ds.BitsStored)) - 1)
        out[name] = (pixels.astype(np.uint16), ds.PhotometricInterpretation == "MONOCHROME1")
    return out


def crop(rng: random.Random, pixels: np.ndarray, mono1: bool, flip: bool) -> tuple[np.ndarray, bool]:
    """A random crop of 60-100% per side (cat.dcm's own "R" marker, bottom left, cut away), in
    the other polarity when `flip`."""
    rows, cols = pixels.shape
    if rows > 2000:  # cat.dcm: drop the rows holding its burned-in "R"
        rows = rows * 3 // 4
    h, w = int(rows * rng.uniform(0.6, 1)), int(cols * rng.uniform(0.6, 1))
    y, x = rng.randrange(rows - h + 1), rng.randrange(cols - w + 1)
    out = pixels[y:y + h, x:x + w].copy()
    if flip:
        out = (int(out.max()) + int(out.min()) - out.astype(np.int64)).astype(np.uint16)
    return out, mono1 ^ flip


def identity(rng: random.Random) -> tuple[Dataset, list[str]]:
    """A header and the strings a console would burn in from it."""
    ds = Dataset()
    family, given = rng.choice(FAMILIES), rng.choice(GIVENS)
    ds.PatientName = f"{family}^{given}"
    ds.PatientID = str(rng.randrange(10 ** 6, 10 ** 9))
    ds.AccessionNumber = f"{rng.choice('ACRX')}{rng.randrange(10 ** 6, 10 ** 8)}"
    birth = f"20{rng.randrange(18, 25)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    study = f"20{rng.randrange(18, 25)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    ds.PatientBirthDate, ds.StudyDate = birth, study
    ds.InstitutionName = rng.choice(PLACES)
    y, m, d = study[:4], study[4:6], study[6:]
    month = burned_in.MONTHS[int(m) - 1].title()
    dates = [f"{d}.{m}.{y}", f"{y}-{m}-{d}", f"{d}/{m}/{y}", f"{m}/{d}/{y}", f"{d}-{month}-{y}", f"{d} {month} {y}", study]
    texts = [f"{family}, {given}", f"{family} {given}", f"ID {ds.PatientID}", f"MRN {ds.PatientID}",
             f"DOB {birth[6:]}.{birth[4:6]}.{birth[:4]}", rng.choice(dates), f"ACC {ds.AccessionNumber}",
             ds.InstitutionName, f"{given[0]}. {family}"]
    rng.shuffle(texts)
    return ds, texts[:rng.randint(2, 5)]


def free_spot(rng: random.Random, shape, size, taken) -> tuple[int, int] | None:
    rows, cols = shape
    w, h = size
    for _ in range(50):
        if w + 20 >= cols or h + 20 >= rows:
            return None
        x, y = rng.randrange(10, cols - w - 10), rng.randrange(10, rows - h - 10)
        box = (x - 15, y - 15, x + w + 15, y + h + 15)
        if all(box[2] < t[0] or box[0] > t[2] or box[3] < t[1] or box[1] > t[3] for t in taken):
            taken.append(box)
            return x, y
    return None


def render(rng: random.Random, pixels: np.ndarray, mono1: bool, texts: list[str], taken: list) -> list:
    planted = []
    for text in texts:
        face = font(rng.choice([12, 14, 16, 20, 24, 30, 40, 56, 80]), rng.choice(["default", "dejavu", "mono"]))
        left, top, right, bottom = face.getbbox(text)
        spot = free_spot(rng, pixels.shape, (right, bottom), taken)
        if spot is None:
            continue
        style = rng.random()
        if style < 0.3:
            words = plant(pixels, mono1, text, spot, face, box=0.0)
        elif style < 0.4:
            words = plant(pixels, mono1, text, spot, face, box=1.0, dark=True)
        else:
            words = plant(pixels, mono1, text, spot, face, contrast=rng.choice([1.0, 1.0, 0.7, 0.5]),
                          dark=rng.random() < 0.15)
        planted += words
    return planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=80)
    parser.add_argument("--blank", type=int, default=18)
    parser.add_argument("--seed", type=int, default=102)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/burned_in_recall.json"))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    images = sources()
    phi_total = phi_hit = phi_box_hit = phi_absent = marker_total = marker_kept = doubtful_images = 0
    misses, seconds = [], []
    for n in range(args.images):
        name = rng.choice(sorted(images))
        pixels, mono1 = crop(rng, *images[name], flip=rng.random() < 0.5)
        ds, texts = identity(rng)
        before = pixels.copy()
        taken: list = []
        phi = [w for w in render(rng, pixels, mono1, texts, taken) if w.text.rstrip(",.") not in LABELS]
        markers = render(rng, pixels, mono1, rng.sample(MARKER_TEXTS, 2), taken)
        start = time.perf_counter()
        result = burned_in.scrub(pixels, burned_in.deny_tokens(ds), mono1)
        seconds.append(time.perf_counter() - start)
        doubtful_images += result.doubtful > 0
        changed = pixels != before
        for word in phi:
            x0, y0, x1, y1 = map(int, word.box)
            ink = changed[y0:y1, x0:x1]
            phi_box_hit += bool(result.doubtful or masked(result.pixels, mono1, word))
            if not ink.any():
                phi_absent += 1
                continue
            phi_total += 1
            dark = result.pixels.max() if mono1 else result.pixels.min()
            if result.doubtful or np.all(result.pixels[y0:y1, x0:x1][ink] == dark):
                phi_hit += 1
            else:
                misses.append({"image": n, "source": name, "mono1": mono1, "word": "<phi>",
                               "chars": len(word.text), "cap_px": word.box[3] - word.box[1],
                               "box_share_changed": round(float(ink.mean()), 3)})
        marker_total += len(markers)
        marker_kept += sum(untouched(pixels, result.pixels, w) for w in markers)
        print(f"{n}: {name} mono1={mono1} phi {phi_hit}/{phi_total} markers {marker_kept}/{marker_total} "
              f"doubtful={result.doubtful} {seconds[-1]:.1f}s", flush=True)
    blank_masked = blank_doubtful = 0
    blank_changed = []
    for n in range(args.blank):
        name = sorted(images)[n % len(images)]
        pixels, mono1 = crop(rng, *images[name], flip=n % 2 == 1)
        start = time.perf_counter()
        result = burned_in.scrub(pixels, [], mono1)
        seconds.append(time.perf_counter() - start)
        blank_masked += result.masked > 0
        blank_doubtful += result.doubtful > 0
        blank_changed.append(float(np.mean(result.pixels != pixels)))
    report = {
        "images": args.images, "seed": args.seed, "phi_words": phi_total, "phi_recalled": phi_hit,
        "phi_recall": round(phi_hit / max(phi_total, 1), 4), "phi_not_in_pixels": phi_absent,
        "phi_recall_whole_box": round(phi_box_hit / max(phi_total + phi_absent, 1), 4),
        "images_doubtful": doubtful_images,
        "markers": marker_total, "markers_kept": marker_kept,
        "marker_retention": round(marker_kept / max(marker_total, 1), 4),
        "blank_images": args.blank, "blank_images_masked": blank_masked, "blank_images_doubtful": blank_doubtful,
        "blank_mean_pixels_changed": round(float(np.mean(blank_changed)), 6),
        "seconds_per_image_mean": round(float(np.mean(seconds)), 2),
        "seconds_per_image_max": round(float(np.max(seconds)), 2), "misses": misses,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "misses"}, indent=1))


if __name__ == "__main__":
    main()
