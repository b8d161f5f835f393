"""De-identify one hospital's delivery folder: every file in, one state out.

Files (any nesting, any names) are converted in parallel into a staging folder named by keyed
references, then numbered per patient in exam order (`H03_<pseudonym>_01`, ...) and renamed into
place. Nothing derived from an input path reaches the output folder: quarantine rows and audit
records name a file by its keyed reference, and only the site-private map (owner-only, outside
`results/`) links references, input paths, input SHA-256 and case ids.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import os
import shutil
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pydicom
import tesserocr
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from neovert import FLAG_COLUMNS, annex_e, burned_in
from neovert.deid.clinical import FAMILY_COLUMN, age_at_exam, bw_group, ga_group, hard_flags, read_clinical
from neovert.deid.header import Context, clean_header
from neovert.deid.source import Quarantine, read_radiograph, stored_pixels
from neovert.io import atomic_path, write_json, write_text, write_tsv
from neovert.parallel import pool_map
from neovert.pseudonym import Pseudonymizer
from neovert.rasterize.formats import AnnotationError, open_annotations

STAGE_VERSION = "7"  # 6: burned-in search on tile spikes and clipped extremes; 7: unsure marker rows read twice
log = logging.getLogger(__name__)

METHOD_CODES = {"113100": "Basic Application Confidentiality Profile", "113101": "Clean Pixel Data Option",
                **{code: name for code, name in annex_e.OPTIONS.items()}}
CASE_COLUMNS = ["case_id", "hospital", "patient_id", "family_id", "ga_group", "bw_group", "sex", "tube", *FLAG_COLUMNS,
                "age_days", "age_hours", "age_check", "view", "body_part"]
MAP_COLUMNS = ["source_ref", "image_file", "input_sha256", "patient_key", "case_id", "date_shift_days", "state"]
_job: dict = {}  # per-process settings, set once by _start (worker processes inherit nothing else)


def deid_folder(src: Path, out_dir: Path, key: bytes, clinical: Path, map_file: Path, hospital: str,
                annotations: Path | None = None, workers: int = 1,
                annotation_format: str = "labelme") -> dict[str, int]:
    """De-identify every file under `src` into `out_dir` (dicom/, annotations/, cases.tsv,
    quarantine.tsv, audit.jsonl); the re-identification map goes to `map_file` only.
    `annotations` is read as `annotation_format` (neovert.rasterize.formats)."""
    src, out_dir = Path(src), Path(out_dir)
    files = sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())
    for stale in ("dicom", "annotations", ".staging"):
        shutil.rmtree(out_dir / stale, ignore_errors=True)
    settings = {"src": src, "staging": out_dir / ".staging", "key": key, "sheet": read_clinical(clinical),
                "annotations": None if annotations is None else open_annotations(annotations, annotation_format)}
    results = list(_progress(pool_map(_process, files, workers, _start, (settings,)), hospital, len(files)))
    records = _place(results, out_dir, hospital)
    shutil.rmtree(out_dir / ".staging", ignore_errors=True)
    return _write_tables(records, out_dir, map_file, hospital)


def _start(settings: dict) -> None:
    # pydicom's validation warnings quote the offending value, which may be PHI: never emit them
    pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
    _job.update(settings, pseudo=Pseudonymizer(settings["key"]))


def _progress(results, hospital: str, total: int):
    for done, result in enumerate(results, 1):
        if done == total or done % max(1, total // 10) == 0:
            log.info("%s: %d/%d files de-identified or quarantined", hospital, done, total)
        yield result


def _process(image_file: str) -> dict:
    """One file: a converted record with its staged output, or a quarantined one."""
    pseudo: Pseudonymizer = _job["pseudo"]
    path = _job["src"] / image_file
    record = {"image_file": image_file, "source_ref": pseudo.reference(image_file), "input_sha256": None}
    try:
        data = path.read_bytes()
    except OSError as error:  # its message would quote the path
        return {**record, "state": "quarantined", "reason": "unreadable", "detail": type(error).__name__}
    record["input_sha256"] = hashlib.sha256(data).hexdigest()
    try:
        return {**record, **_convert(data, image_file, record["source_ref"])}
    except Quarantine as problem:
        return {**record, "state": "quarantined", "reason": problem.reason, "detail": problem.detail}
    except OSError:  # writing failed (disk full, permissions): the job must fail, not quarantine
        raise
    except Exception as error:  # a damaged header deep in a sequence: one file, not the hospital
        return {**record, "state": "quarantined", "reason": "conversion_error", "detail": type(error).__name__}


def _convert(data: bytes, image_file: str, source_ref: str) -> dict:
    pseudo: Pseudonymizer = _job["pseudo"]
    source = read_radiograph(data)
    patient_key = str(source.get("PatientID", "")).strip()
    if not patient_key:
        raise Quarantine("no_patient_id")
    row = _job["sheet"].get(image_file)
    if row is None:
        raise Quarantine("missing_clinical_row")
    if row["patient_key"].strip() != patient_key:
        raise Quarantine("clinical_mismatch")
    try:
        ga, bw, tube = float(row["ga_weeks"]), float(row["bw_grams"]), int(row["tube"])
    except ValueError:
        raise Quarantine("bad_clinical_row") from None
    try:
        flags = hard_flags(row)
    except ValueError as error:  # names the column, never the value
        raise Quarantine("bad_clinical_row", str(error)) from None
    family = row.get(FAMILY_COLUMN, "").strip()
    shapes = _annotation(image_file)
    pixels = stored_pixels(source)
    scrub = burned_in.scrub(pixels, burned_in.deny_tokens(source), source.PhotometricInterpretation == "MONOCHROME1")
    if scrub.doubtful:
        raise Quarantine("burned_in_annotation", f"{scrub.doubtful} doubtful words")
    shift = pseudo.date_shift(patient_key)
    dataset, actions = clean_header(source, Context(str(source.SOPClassUID), pseudo, shift))
    _stamp_identity(dataset, pseudo.patient(patient_key), scrub.pixels)
    staged = _job["staging"] / f"{source_ref}.dcm"
    output = _write_dicom(staged, dataset)
    return {
        "state": "converted", "staged": staged, "shapes": shapes, "patient_key": patient_key,
        "patient_id": dataset.PatientID, "sop": dataset.SOPInstanceUID, "date_shift_days": shift.days,
        "order": (str(source.get("StudyDate", "")), str(source.get("StudyTime", "")),
                  str(source.get("AcquisitionTime", "")), dataset.SOPInstanceUID),
        "case": {"family_id": pseudo.family(family) if family else None, "ga_group": ga_group(ga),
                 "bw_group": bw_group(bw), "sex": row["sex"].strip().upper()
                 or str(source.get("PatientSex", "")), "tube": tube, **flags, **age_at_exam(source),
                 "view": str(source.get("ViewPosition", "")), "body_part": str(source.get("BodyPartExamined", ""))},
        "actions": dict(sorted(actions.items())),
        "pixels": {"ocr_words": scrub.words, "ocr_masked": scrub.masked, "markers_kept": scrub.kept_markers},
        "output_sha256": hashlib.sha256(output).hexdigest(),
    }


def _stamp_identity(dataset: Dataset, pseudonym: str, pixels) -> None:
    """Pseudonymous identity, decoded (scrubbed) pixels and the PS3.15 record of what was done."""
    dataset.PatientName = dataset.PatientID = pseudonym
    dataset.PixelData = pixels.tobytes()
    dataset["PixelData"].VR = "OW" if pixels.dtype.itemsize > 1 else "OB"
    dataset.PatientIdentityRemoved = "YES"
    dataset.LongitudinalTemporalInformationModified = "MODIFIED"
    dataset.DeidentificationMethod = f"neovert deid {STAGE_VERSION}; PS3.15 Table E.1-1 {annex_e.EDITION}"
    dataset.DeidentificationMethodCodeSequence = Sequence([_code(v, m) for v, m in METHOD_CODES.items()])


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
    return item


def _write_dicom(path: Path, dataset: Dataset) -> bytes:
    """Always uncompressed: decoded pixels are stored as decoded, so lossless inputs stay bit-exact.
    Returns the bytes written (for the audit's hash without reading the file back)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.file_meta = meta
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def _annotation(image_file: str) -> dict | None:
    """Only geometry leaves the stage: label, shape type and points (no image path or data)."""
    annotations = _job["annotations"]
    if annotations is None:
        return None
    try:
        return annotations.document(Path(image_file).stem)
    except AnnotationError as error:
        raise Quarantine("unreadable_annotation", str(error)) from None


def _place(results: list[dict], out_dir: Path, hospital: str) -> list[dict]:
    """Drop duplicate SOP instances (first file wins), then number each patient's images in exam
    order and move them into place."""
    seen: set[str] = set()
    for record in results:
        if record["state"] == "converted" and record["sop"] in seen:
            record["staged"].unlink()
            record.update(state="quarantined", reason="duplicate_sop_instance", detail="")
        elif record["state"] == "converted":
            seen.add(record["sop"])
    counter: dict[str, int] = {}
    for record in sorted((r for r in results if r["state"] == "converted"),
                         key=lambda r: (r["patient_id"], r["order"])):
        counter[record["patient_id"]] = number = counter.get(record["patient_id"], 0) + 1
        record["case_id"] = case_id = f"{hospital}_{record['patient_id']}_{number:02d}"
        (out_dir / "dicom").mkdir(parents=True, exist_ok=True)
        os.replace(record["staged"], out_dir / "dicom" / f"{case_id}.dcm")
        if record["shapes"] is not None:
            write_json(out_dir / "annotations" / f"{case_id}.json", record["shapes"])
    for record in results:
        if record["state"] == "quarantined":
            log.warning("%s: file %s quarantined: %s", hospital, record["source_ref"], record["reason"])
    return results


def _write_tables(records: list[dict], out_dir: Path, map_file: Path, hospital: str) -> dict[str, int]:
    converted = sorted((r for r in records if r["state"] == "converted"), key=lambda r: r["case_id"])
    quarantined = sorted((r for r in records if r["state"] == "quarantined"), key=lambda r: r["source_ref"])
    cases = [{"case_id": r["case_id"], "hospital": hospital, "patient_id": r["patient_id"], **r["case"]}
             for r in converted]
    integers = dict.fromkeys(["age_days", "age_hours", *FLAG_COLUMNS], "Int64")  # None -> empty, never 1.0
    write_tsv(pd.DataFrame(cases, columns=CASE_COLUMNS).astype(integers), out_dir / "cases.tsv")
    write_tsv(pd.DataFrame(quarantined, columns=["source_ref", "reason", "detail"]), out_dir / "quarantine.tsv")
    write_text(out_dir / "audit.jsonl", "".join(json.dumps(_audit(r), sort_keys=True) + "\n"
                                                for r in converted + quarantined))
    _write_private_map(map_file, records)
    counts = {"converted": len(converted), "quarantined": len(quarantined)}
    log.info("%s: %d converted, %d quarantined", hospital, counts["converted"], counts["quarantined"])
    return counts


def _audit(record: dict) -> dict:
    """One JSON line per input file; no input hash or path (those stay in the site's map)."""
    audit = {"source_ref": record["source_ref"], "state": record["state"], "edition": annex_e.EDITION,
             "options": sorted(METHOD_CODES), "versions": _versions()}
    if record["state"] == "quarantined":
        return {**audit, "reason": record["reason"], "detail": record["detail"]}
    return {**audit, "case_id": record["case_id"], "output_sha256": record["output_sha256"],
            "actions": record["actions"], "pixels": record["pixels"], "age_check": record["case"]["age_check"],
            "date_shift_sign": "-"}


@functools.cache
def _versions() -> dict[str, str]:
    packages = ("neovert", "pydicom", "pylibjpeg", "pylibjpeg-libjpeg", "pylibjpeg-openjpeg", "pylibjpeg-rle",
                "tesserocr", "opencv-python-headless")
    return {"deid_stage": STAGE_VERSION, "tesseract": tesserocr.tesseract_version().split()[1],
            **{name: version(name) for name in packages}}


def _write_private_map(path: Path, records: list[dict]) -> None:
    """The re-identification map: owner-only permissions, never under results/."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    frame = pd.DataFrame(sorted(records, key=lambda r: r["source_ref"]), columns=MAP_COLUMNS)
    text = frame.astype({"date_shift_days": "Int64"}).to_csv(sep="\t", index=False, lineterminator="\n")
    with atomic_path(path) as tmp:  # created owner-only, never readable by others even briefly
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
            out.write(text)
