"""Write the demo cohort: per hospital a clinical sheet, DICOM files and LabelMe annotations.

The plan (who is imaged when) is computed up front in the parent process; each image is then
a pure function of (seed, plan), so a process pool gives the same bytes as one worker. The
clinical sheets and burned_in.csv (the console text drawn into each film, the truth for checks
of deid's pixel cleaning) are written once every image is drawn (the sheet's hard-slice flags
come from the drawn anatomy) and cohort.json last, so a folder with a cohort.json is a complete
cohort.
`layout` gives an image's anatomy and framing without drawing it: labels and flags of a whole
cohort in seconds, for checks that need many images but no pixels.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import csv
import functools
import io
import itertools
import json
import logging
import multiprocessing
import re
from pathlib import Path

from neovert import FLAG_COLUMNS
from neovert.deid import CLINICAL_COLUMNS
from neovert.deid.clinical import FAMILY_COLUMN
from neovert.io import atomic_path
from neovert.synth import (
    anatomy, burned_text, devices, dicom, framing, hard_cases, identity, imaging, labels, profiles, render, seeds,
)
from neovert.synth.cohort import ImagePlan, plan_cohort
from neovert.synth.primitives import Frame

log = logging.getLogger(__name__)

# 2: image_file relative to dicom/; 3: rib variants, lordosis, devices, hard-slice flags;
# 4: twins (family_id in the clinical sheet), burned-in markers and PHI text (burned_in.csv);
# 5: arms up or down with scapulae and humeri, axial rotation (in hard_rotation), a liver
GENERATOR_VERSION = "5"
BURNED_COLUMNS = ("image_file", "kind", "text", "x0", "y0", "x1", "y1")
_OWN_FILE = re.compile(r"IMG\d{5}\.(dcm|json)")


def generate_cohort(
    out: Path, *, scale: float = 0.01, seed: int = 102, per_hospital: int | None = None, workers: int = 1
) -> None:
    """Generate the synthetic cohort under `out` (see the package docstring for the layout).

    `per_hospital` overrides the Table 1 counts with that many images per hospital;
    otherwise each hospital gets max(1, round(count * scale)) images. `workers` > 1 draws
    images in a process pool; the output does not depend on it.
    """
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out = Path(out)
    todo = plan_cohort(scale, seed, per_hospital)
    plans = {hospital: list(group) for hospital, group in itertools.groupby(todo, key=lambda plan: plan.hospital)}
    for hospital, hospital_plans in plans.items():
        patients = len({p.patient_index for p in hospital_plans})
        log.info("%s: %d images of %d patients planned", hospital, len(hospital_plans), patients)

    done: collections.Counter[str] = collections.Counter()
    draw = functools.partial(write_image, out, seed)
    flags_of: dict[tuple[str, str], dict[str, int]] = {}
    burned_of: dict[tuple[str, str], list[burned_text.Burned]] = {}
    with contextlib.ExitStack() as stack:
        if workers == 1:
            results = map(draw, todo)
        else:
            context = multiprocessing.get_context("spawn")
            pool = stack.enter_context(concurrent.futures.ProcessPoolExecutor(workers, mp_context=context))
            results = pool.map(draw, todo, chunksize=4)
        for plan, (flags, burned) in zip(todo, results):
            flags_of[plan.hospital, plan.stem] = flags
            burned_of[plan.hospital, plan.stem] = burned
            _progress(done, plan.hospital, len(plans[plan.hospital]))

    for hospital, hospital_plans in plans.items():
        sheet = _clinical_csv(seed, hospital_plans, [flags_of[hospital, plan.stem] for plan in hospital_plans])
        _write(out / hospital / "clinical.csv", sheet)
        _write(out / hospital / "burned_in.csv", _burned_csv(hospital_plans, burned_of))
        _prune(out / hospital, {plan.stem for plan in hospital_plans})
    summary = {
        "generator": "neovert.synth",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "scale": scale,
        "per_hospital": per_hospital,
        "counts": {hospital: len(p) for hospital, p in plans.items()},
        "total": len(todo),
    }
    _write(out / "cohort.json", (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode())
    log.info("cohort complete: %d images in %d hospitals", len(todo), len(plans))


def layout(seed: int, plan: ImagePlan) -> tuple[anatomy.Scene, Frame]:
    """The image's anatomy (devices included) and framing: everything its labels and hard-slice
    flags are made of. Its random streams are rebuilt from the image's seed sequence, so every
    call, here or in `write_image`, gives the same scene."""
    rng = seeds.image_rngs(seed, plan.hospital_index, plan.patient_index, plan.image_index)
    scene = anatomy.build_scene(plan.ga_weeks, plan.bw_grams, rng["anatomy"])
    scene = devices.with_devices(scene, plan.ga_group, plan.tube, rng["devices"])
    return scene, framing.choose_frame(scene, profiles.profile(plan.hospital_index), rng["framing"])


def write_image(out: Path, seed: int, plan: ImagePlan) -> tuple[dict[str, int], list[burned_text.Burned]]:
    """Draw one image and write its DICOM and LabelMe files; returns its hard-slice flags and
    the console text burned into it."""
    rng = seeds.image_rngs(seed, plan.hospital_index, plan.patient_index, plan.image_index)
    profile = profiles.profile(plan.hospital_index)
    scene, frame = layout(seed, plan)
    exposure = imaging.sample_exposure(profile, rng["imaging"])
    atten = render.attenuation(scene, frame, rng["texture"])
    display, body_signal = imaging.detect(atten, exposure, frame.spacing, rng["noise"])
    staff = _staff(seed, plan.hospital_index)
    person = identity.patient(seed, plan.hospital_index, plan.patient_index, plan.family_index)
    visit = identity.visit(seed, plan, person, rng["header"])
    image, burned = burned_text.burn(imaging.quantize(display, body_signal, exposure, profile), profile, scene,
                                     frame, burned_text.choose(person, visit.taken, rng["text"]))
    record = dicom.ImageRecord(
        seed=seed,
        plan=plan,
        patient=person,
        staff=staff,
        visit=visit,
        profile=profile,
        frame=frame,
        exposure=exposure,
        magnification=scene.magnification,
        image=image,
        staff_pick=(
            int(rng["header"].integers(len(staff.referring))),
            int(rng["header"].integers(len(staff.performing))),
            int(rng["header"].integers(len(staff.operators))),
        ),
    )
    folder = out / plan.hospital
    _write(folder / "dicom" / f"{plan.stem}.dcm", dicom.encode(record))
    document = labels.labelme(scene, frame, f"../dicom/{plan.stem}.dcm")
    _write(folder / "annotations" / f"{plan.stem}.json", labels.encode(document))
    return hard_cases.flags(scene, frame), burned


@functools.lru_cache(maxsize=16)
def _staff(seed: int, hospital_index: int) -> identity.Staff:
    return identity.staff(seed, hospital_index)


def _clinical_csv(seed: int, plans: list[ImagePlan], hard: list[dict[str, int]]) -> bytes:
    """The hospital's sheet (the columns deid reads), the family key (the mother's record
    number, which twins share; deid pseudonymises it) and the hard-slice flags, which deid
    carries through to the results: they describe the synthetic film, not the infant."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CLINICAL_COLUMNS + (FAMILY_COLUMN,) + FLAG_COLUMNS)
    for plan, flags in zip(plans, hard, strict=True):
        person = identity.patient(seed, plan.hospital_index, plan.patient_index, plan.family_index)
        writer.writerow(
            [person.key, f"{plan.stem}.dcm", f"{plan.ga_weeks:.1f}", plan.bw_grams, plan.sex, int(plan.tube),
             person.mother_key, *(flags[column] for column in FLAG_COLUMNS)]
        )
    return text.getvalue().encode()


def _burned_csv(plans: list[ImagePlan], burned_of: dict[tuple[str, str], list[burned_text.Burned]]) -> bytes:
    """One row per label burned into a film: kind (marker, technique, phi), the text of markers
    (a PHI label's text stays in the pixels: this file says only where it is) and the ink box."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(BURNED_COLUMNS)
    for plan in plans:
        for label in burned_of[plan.hospital, plan.stem]:
            writer.writerow([f"{plan.stem}.dcm", label.kind, "" if label.kind == "phi" else label.text, *label.box])
    return text.getvalue().encode()


def _progress(done: collections.Counter[str], hospital: str, total: int) -> None:
    done[hospital] += 1
    count = done[hospital]
    if count == total or count % max(1, total // 10) == 0:
        log.info("%s: %d/%d images written", hospital, count, total)


def _prune(folder: Path, stems: set[str]) -> None:
    """Remove images and annotations a previous, larger run left behind."""
    for sub in ("dicom", "annotations"):
        for path in sorted((folder / sub).glob("IMG*")):
            if _OWN_FILE.fullmatch(path.name) and path.name.split(".")[0] not in stems:
                path.unlink()
                log.info("%s: removed stale %s/%s", folder.name, sub, path.name)


def _write(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
