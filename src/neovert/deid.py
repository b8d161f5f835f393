"""De-identification of one hospital's delivery (first version of the `deid` stage).

Approach: default-deny. A de-identified file is built fresh from an allowlist of attributes
(image pixel module, spacing, exposure and patient characteristics: PS3.15 Annex E "keep" under
the Retain Patient Characteristics and Retain Device Identity options) plus replaced identifiers:
keyed pseudonyms for the patient, keyed `2.25.` UIDs and per-patient shifted dates (Retain
Longitudinal Temporal Information with Modified Dates). Everything else, including every private
tag, free-text field and nested sequence, is not copied, so it cannot leak. The audit counts
what was dropped and replaced per case.

GA and birth weight come from the hospital's clinical sheet and leave this stage only as the
paper's groups. Each input ends as a converted case or as a quarantine row with a reason code.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence

from neovert.io import atomic_path, write_json, write_text, write_tsv
from neovert.pseudonym import Pseudonymizer

STAGE_VERSION = "1"
log = logging.getLogger(__name__)

CLINICAL_COLUMNS = ("patient_key", "image_file", "ga_weeks", "bw_grams", "sex", "tube")
KEEP = (
    "SOPClassUID Modality ImageType PresentationIntentType Manufacturer ManufacturerModelName "
    "PatientSex PatientAge PatientWeight BodyPartExamined ViewPosition PatientOrientation "
    "ImageLaterality KVP Exposure ExposureTime XRayTubeCurrent DistanceSourceToDetector "
    "DistanceSourceToPatient EstimatedRadiographicMagnificationFactor DetectorType "
    "SamplesPerPixel PhotometricInterpretation Rows Columns BitsAllocated BitsStored HighBit "
    "PixelRepresentation PixelSpacing ImagerPixelSpacing PixelSpacingCalibrationType "
    "RescaleIntercept RescaleSlope RescaleType WindowCenter WindowWidth PresentationLUTShape "
    "PixelIntensityRelationship PixelIntensityRelationshipSign LossyImageCompression "
    "BurnedInAnnotation PixelData"
).split()
UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")
DATES = ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate")
TIMES = ("StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime")
EMPTY_TYPE2 = ("PatientBirthDate", "StudyID", "AccessionNumber", "ReferringPhysicianName")
METHOD_CODES = (  # CID 7050 codes for what this stage applies
    ("113100", "Basic Application Confidentiality Profile"),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    ("113108", "Retain Patient Characteristics Option"),
    ("113109", "Retain Device Identity Option"),
)


def ga_group(weeks: float) -> str:
    """Paper's GA groups: GA01 <28 wk, GA02 28-32 wk, GA03 >=33 wk."""
    return "GA01" if weeks < 28 else "GA02" if weeks < 33 else "GA03"


def bw_group(grams: float) -> str:
    """Paper's BW groups: BW01 <1000 g, BW02 1000-1500 g, BW03 >=1500 g."""
    return "BW01" if grams < 1000 else "BW02" if grams < 1500 else "BW03"


class Quarantine(Exception):
    """An input that cannot be converted; `reason` is a stable code for the quarantine table."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Converted:
    case: dict
    dataset: Dataset
    audit: dict


def read_clinical(path: Path) -> pd.DataFrame:
    sheet = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in CLINICAL_COLUMNS if c not in sheet.columns]
    if missing:
        raise ValueError(f"{path}: clinical sheet lacks columns {missing}")
    return sheet


def _shift_date(value: str, shift: dt.timedelta) -> str:
    return (dt.datetime.strptime(value[:8], "%Y%m%d") - shift).strftime("%Y%m%d")


def _age_days(source: Dataset) -> int | None:
    """Postnatal age at exam, computed before the birth date is dropped."""
    born, taken = source.get("PatientBirthDate", ""), source.get("AcquisitionDate") or source.get("StudyDate", "")
    if len(born) < 8 or len(taken) < 8:
        return None
    return (dt.datetime.strptime(taken[:8], "%Y%m%d") - dt.datetime.strptime(born[:8], "%Y%m%d")).days


def _code_item(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
    return item


def deidentify(source: Dataset, pseudo: Pseudonymizer) -> tuple[Dataset, dict]:
    """Build the de-identified dataset and an audit record of what happened to each attribute."""
    patient_id = str(source.get("PatientID", "")).strip()
    if not patient_id:
        raise Quarantine("no_patient_id")
    if "PixelData" not in source:
        raise Quarantine("no_pixel_data")
    shift = pseudo.date_shift(patient_id)
    out = Dataset()
    for keyword in KEEP:
        if keyword in source:
            out[keyword] = source[keyword]
    for keyword in UIDS:
        if keyword in source:
            setattr(out, keyword, pseudo.uid(str(source[keyword].value)))
    for keyword in DATES:
        if source.get(keyword):
            setattr(out, keyword, _shift_date(source[keyword].value, shift))
    for keyword in TIMES:
        if source.get(keyword):
            setattr(out, keyword, source[keyword].value)
    if source.get("AcquisitionDateTime"):
        value = str(source.AcquisitionDateTime)
        out.AcquisitionDateTime = _shift_date(value, shift) + value[8:]
    for keyword in EMPTY_TYPE2:
        setattr(out, keyword, "")
    out.PatientName = out.PatientID = pseudo.patient(patient_id)
    out.PatientIdentityRemoved = "YES"
    out.LongitudinalTemporalInformationModified = "MODIFIED"
    out.DeidentificationMethod = f"neovert deid v{STAGE_VERSION}: allowlist, keyed pseudonyms, shifted dates"
    out.DeidentificationMethodCodeSequence = Sequence([_code_item(*code) for code in METHOD_CODES])

    source_keywords = {e.keyword or str(e.tag) for e in source}
    audit = {
        "kept": sum(k in source_keywords for k in KEEP),
        "replaced": sum(k in source_keywords for k in (*UIDS, *DATES, "PatientName", "PatientID", "AcquisitionDateTime")),
        "removed": len(source_keywords - set(out.dir()) - {"PatientName", "PatientID"}),
        "private_removed": sum(e.tag.is_private for e in source),
        "sequences_removed": sum(e.VR == "SQ" for e in source),
    }
    return out, audit


def _write_dicom(path: Path, dataset: Dataset, transfer_syntax: str) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    meta.TransferSyntaxUID = transfer_syntax
    dataset.file_meta = meta
    with atomic_path(path) as tmp:
        dataset.save_as(tmp, enforce_file_format=True)


def _labelme_shapes(path: Path) -> dict:
    """Only geometry leaves the stage: label, shape type and points (no image path, no image data)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {
            "imageHeight": raw.get("imageHeight"),
            "imageWidth": raw.get("imageWidth"),
            "shapes": [
                {"label": s["label"], "shape_type": s.get("shape_type", "polygon"), "points": s["points"]}
                for s in raw["shapes"]
            ],
        }
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise Quarantine("unreadable_annotation", type(error).__name__) from None


def _convert(delivery: Path, row: pd.Series, pseudo: Pseudonymizer) -> Converted:
    path = delivery / row.image_file
    try:
        source = pydicom.dcmread(path)
    except FileNotFoundError:
        raise Quarantine("missing_file") from None
    except Exception as error:  # pydicom raises many types for damaged files
        raise Quarantine("unreadable", type(error).__name__) from None
    if str(source.get("PatientID", "")).strip() != row.patient_key.strip():
        raise Quarantine("clinical_mismatch", "PatientID differs from the clinical sheet's patient key")
    try:
        ga, bw, tube = float(row.ga_weeks), float(row.bw_grams), int(row.tube)
    except ValueError:
        raise Quarantine("bad_clinical_row", "ga_weeks, bw_grams or tube is not a number") from None
    dataset, audit = deidentify(source, pseudo)
    case = {
        "patient_id": dataset.PatientID,
        "ga_group": ga_group(ga),
        "bw_group": bw_group(bw),
        "sex": row.sex.strip().upper() or str(source.get("PatientSex", "")),
        "tube": tube,
        "age_days": _age_days(source),
        "order": (str(source.get("StudyDate", "")), str(source.get("StudyTime", "")), dataset.SOPInstanceUID),
        "transfer_syntax": str(source.file_meta.TransferSyntaxUID),
        "sop": dataset.SOPInstanceUID,
    }
    return Converted(case, dataset, audit)


def deid_hospital(
    delivery: Path, hospital: str, key: bytes, out_dir: Path, map_file: Path
) -> dict[str, int]:
    """De-identify every image listed in `delivery/clinical.csv` into `out_dir`.

    Writes out_dir/dicom/<case>.dcm, out_dir/annotations/<case>.json, cases.tsv, quarantine.tsv
    and audit.tsv; the link from input file to case id goes only to `map_file` (outside results/).
    """
    pseudo = Pseudonymizer(key)
    sheet = read_clinical(delivery / "clinical.csv")
    listed = set(sheet.image_file)
    quarantine = [
        {"source": str(p.relative_to(delivery)), "reason": "missing_clinical_row", "detail": ""}
        for p in sorted((delivery / "dicom").glob("*.dcm"))
        if str(p.relative_to(delivery)) not in listed
    ]
    converted: list[tuple[pd.Series, Converted, dict]] = []
    seen_sops: set[str] = set()
    for _, row in sheet.sort_values("image_file").iterrows():
        try:
            item = _convert(delivery, row, pseudo)
            if item.case["sop"] in seen_sops:
                raise Quarantine("duplicate_sop_instance")
            seen_sops.add(item.case["sop"])
            shapes = _labelme_shapes(delivery / "annotations" / f"{Path(row.image_file).stem}.json")
            converted.append((row, item, shapes))
        except Quarantine as problem:
            log.warning("%s/%s quarantined: %s", hospital, row.image_file, problem)
            quarantine.append({"source": row.image_file, "reason": problem.reason, "detail": problem.detail})

    # number each patient's images in exam order: H03_<pseudonym>_01, _02, ...
    converted.sort(key=lambda c: (c[1].case["patient_id"], c[1].case["order"]))
    cases, audits, mapping, counter = [], [], [], {}
    for row, item, shapes in converted:
        patient = item.case["patient_id"]
        counter[patient] = counter.get(patient, 0) + 1
        case_id = f"{hospital}_{patient}_{counter[patient]:02d}"
        _write_dicom(out_dir / "dicom" / f"{case_id}.dcm", item.dataset, item.case["transfer_syntax"])
        write_json(out_dir / "annotations" / f"{case_id}.json", shapes)
        keep = ("patient_id", "ga_group", "bw_group", "sex", "tube", "age_days")
        cases.append({"case_id": case_id, "hospital": hospital, **{k: item.case[k] for k in keep}})
        audits.append({"case_id": case_id, **item.audit})
        mapping.append({"image_file": row.image_file, "patient_key": row.patient_key, "case_id": case_id,
                        "date_shift_days": pseudo.date_shift(row.patient_key).days})
    columns = ["case_id", "hospital", "patient_id", "ga_group", "bw_group", "sex", "tube", "age_days"]
    write_tsv(pd.DataFrame(cases, columns=columns), out_dir / "cases.tsv")
    write_tsv(pd.DataFrame(audits, columns=["case_id", "kept", "replaced", "removed", "private_removed",
                                            "sequences_removed"]), out_dir / "audit.tsv")
    write_tsv(pd.DataFrame(quarantine, columns=["source", "reason", "detail"]), out_dir / "quarantine.tsv")
    _write_private_map(map_file, mapping)
    counts = {"converted": len(cases), "quarantined": len(quarantine)}
    log.info("%s: %d converted, %d quarantined", hospital, counts["converted"], counts["quarantined"])
    return counts


def _write_private_map(path: Path, rows: list[dict]) -> None:
    """The re-identification map: owner-only permissions, never under results/."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    frame = pd.DataFrame(rows, columns=["image_file", "patient_key", "case_id", "date_shift_days"])
    write_text(path, frame.to_csv(sep="\t", index=False, lineterminator="\n"))
    path.chmod(0o600)
