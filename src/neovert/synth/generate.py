"""Write the demo cohort: per hospital a clinical sheet, DICOM files and LabelMe annotations.

The plan (who is imaged when) is computed up front in the parent process; each image is then
a pure function of (seed, plan), so a process pool gives the same bytes as one worker. The
clinical sheets are written before the images and cohort.json last, so a folder with a
cohort.json is a complete cohort.
"""

from __future__ import annotations

import collections
import concurrent.futures
import csv
import functools
import io
import json
import logging
import multiprocessing
import re
from pathlib import Path

from neovert.deid import CLINICAL_COLUMNS
from neovert.io import atomic_path
from neovert.synth import anatomy, dicom, framing, identity, imaging, labels, profiles, render, seeds
from neovert.synth.cohort import TABLE1, ImagePlan, image_count, plan_hospital

log = logging.getLogger(__name__)

GENERATOR_VERSION = "2"  # 2: image_file relative to dicom/
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
    plans = {
        row.hospital: plan_hospital(index, image_count(row, scale, per_hospital), seed)
        for index, row in enumerate(TABLE1, start=1)
    }
    for hospital, hospital_plans in plans.items():
        patients = len({p.patient_index for p in hospital_plans})
        log.info("%s: %d images of %d patients planned", hospital, len(hospital_plans), patients)
        _write(out / hospital / "clinical.csv", _clinical_csv(seed, hospital_plans))

    todo = [plan for hospital_plans in plans.values() for plan in hospital_plans]
    done: collections.Counter[str] = collections.Counter()
    draw = functools.partial(write_image, out, seed)
    if workers == 1:
        for hospital in map(draw, todo):
            _progress(done, hospital, len(plans[hospital]))
    else:
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            for hospital in pool.map(draw, todo, chunksize=4):
                _progress(done, hospital, len(plans[hospital]))

    for hospital, hospital_plans in plans.items():
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


def write_image(out: Path, seed: int, plan: ImagePlan) -> str:
    """Draw one image and write its DICOM and LabelMe files; returns the hospital id."""
    rng = seeds.image_rngs(seed, plan.hospital_index, plan.patient_index, plan.image_index)
    profile = profiles.profile(plan.hospital_index)
    scene = anatomy.build_scene(plan.ga_weeks, plan.bw_grams, rng["anatomy"])
    frame = framing.choose_frame(scene, profile, rng["framing"])
    exposure = imaging.sample_exposure(profile, rng["imaging"])
    atten = render.attenuation(scene, frame, rng["texture"])
    display, body_signal = imaging.detect(atten, exposure, frame.spacing, rng["noise"])
    staff = _staff(seed, plan.hospital_index)
    person = identity.patient(seed, plan.hospital_index, plan.patient_index)
    record = dicom.ImageRecord(
        seed=seed,
        plan=plan,
        patient=person,
        staff=staff,
        visit=identity.visit(seed, plan, person, rng["header"]),
        profile=profile,
        frame=frame,
        exposure=exposure,
        magnification=scene.magnification,
        image=imaging.quantize(display, body_signal, exposure, profile),
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
    return plan.hospital


@functools.lru_cache(maxsize=16)
def _staff(seed: int, hospital_index: int) -> identity.Staff:
    return identity.staff(seed, hospital_index)


def _clinical_csv(seed: int, plans: list[ImagePlan]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CLINICAL_COLUMNS)
    for plan in plans:
        key = identity.patient(seed, plan.hospital_index, plan.patient_index).key
        writer.writerow(
            [key, f"{plan.stem}.dcm", f"{plan.ga_weeks:.1f}", plan.bw_grams, plan.sex, int(plan.tube)]
        )
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
