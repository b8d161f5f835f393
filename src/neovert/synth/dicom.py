"""Pixel array + PHI -> a conformant CR or DX file in the site's transfer syntax.

The header carries PHI wherever real NICU exports do (patient module, dates and times,
physicians, free text, a nested request sequence, the mother's record three levels deep,
and a vendor private block; Hangul names at the Korean-charset sites) so the
de-identification stage is tested against something realistic. Compression is lossless
(JPEG lossless SV1, JPEG 2000, RLE): the decoded pixels equal the drawn ones. Everything is
deterministic: UIDs from seeded entropy, dates from the plan, encoders without randomness;
`dciodvfy` reports no errors for any profile.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import math

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filewriter import dcmwrite
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, JPEGLosslessSV1, generate_uid

from neovert.synth import seeds
from neovert.synth.cohort import ImagePlan
from neovert.synth.identity import Patient, Staff, Visit
from neovert.synth.imaging import Exposure, StoredImage
from neovert.synth.primitives import Frame
from neovert.synth.profiles import VendorProfile

CR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
IMPLEMENTATION_UID = generate_uid(entropy_srcs=["neovert.synth implementation"])
IMPLEMENTATION_VERSION = "NEOVERT_SYNTH_1"


@dataclasses.dataclass(frozen=True)
class ImageRecord:
    """Everything one file is made of."""

    seed: int
    plan: ImagePlan
    patient: Patient
    staff: Staff
    visit: Visit
    profile: VendorProfile
    frame: Frame
    exposure: Exposure
    magnification: float
    image: StoredImage
    staff_pick: tuple[int, int, int]  # referring, performing, operator index


def encode(record: ImageRecord) -> bytes:
    """The complete file (preamble, meta, dataset) as bytes."""
    buffer = io.BytesIO()
    dcmwrite(buffer, build(record), enforce_file_format=True)
    return buffer.getvalue()


def build(record: ImageRecord) -> Dataset:
    p, plan, person, visit = record.profile, record.plan, record.patient, record.visit
    dx = p.modality == "DX"

    def uid(kind: str) -> str:
        return seeds.uid(record.seed, p.hospital, plan.patient_index, plan.image_index, kind)

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = DX_IMAGE_STORAGE if dx else CR_IMAGE_STORAGE
    ds.file_meta.MediaStorageSOPInstanceUID = uid("sop")
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = IMPLEMENTATION_UID
    ds.file_meta.ImplementationVersionName = IMPLEMENTATION_VERSION

    ds.SpecificCharacterSet = list(p.charset) if isinstance(p.charset, tuple) else p.charset
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = uid("study")
    ds.SeriesInstanceUID = uid("series")
    _patient(ds, person, visit, plan, p.korean)
    _study(ds, record)
    _equipment(ds, record)
    _acquisition(ds, record)
    _image_pixel(ds, record)
    _private(ds, record)
    compress(ds, record.image.pixels, p.transfer_syntax)
    return ds


def _da(t: dt.datetime) -> str:
    return t.strftime("%Y%m%d")


def _tm(t: dt.datetime) -> str:
    return t.strftime("%H%M%S")


def _patient(ds: Dataset, person: Patient, visit: Visit, plan: ImagePlan, korean: bool) -> None:
    ds.PatientName = person.korean_dicom_name if korean else person.dicom_name
    ds.PatientID = person.key
    ds.IssuerOfPatientID = f"{plan.hospital}_EMR"
    ds.PatientBirthDate = _da(person.birth)
    ds.PatientBirthTime = _tm(person.birth)
    ds.PatientSex = plan.sex
    ds.PatientAge = f"{plan.day_of_life:03d}D"
    ds.PatientWeight = f"{visit.weight_kg:.3f}"
    # the mother's record, three levels deep: ID at the top, her hospital at the bottom
    facility = Dataset()
    facility.LocalNamespaceEntityID = f"{plan.hospital}_MATERNITY"
    qualifiers = Dataset()
    qualifiers.AssigningFacilitySequence = Sequence([facility])
    other = Dataset()
    other.PatientID = person.mother_key
    other.IssuerOfPatientID = f"{plan.hospital}_EMR"
    other.TypeOfPatientID = "TEXT"
    other.IssuerOfPatientIDQualifiersSequence = Sequence([qualifiers])
    ds.OtherPatientIDsSequence = Sequence([other])


def _study(ds: Dataset, record: ImageRecord) -> None:
    person, visit, staff, p = record.patient, record.visit, record.staff, record.profile
    referring, performing, operator = record.staff_pick
    taken = visit.taken
    ds.StudyDate = ds.SeriesDate = _da(taken)
    ds.StudyTime = _tm(taken - dt.timedelta(minutes=4))
    ds.SeriesTime = _tm(taken - dt.timedelta(seconds=40))
    ds.AccessionNumber = visit.accession
    ds.StudyID = visit.study_id
    ds.StudyDescription = f"XR CHEST AP PORTABLE {person.plain_name}"
    ds.SeriesDescription = "CHEST AP"
    ds.ReferringPhysicianName = staff.referring[referring]
    ds.PerformingPhysicianName = staff.performing[performing]
    ds.OperatorsName = staff.operators[operator]
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.AcquisitionNumber = 1

    procedure = Dataset()
    procedure.CodeValue = "399208008"
    procedure.CodingSchemeDesignator = "SCT"
    procedure.CodeMeaning = "Plain X-ray of chest"
    issuer = Dataset()
    issuer.LocalNamespaceEntityID = f"{p.hospital}_RIS"
    request = Dataset()
    request.RequestedProcedureID = visit.requested_procedure_id
    request.AccessionNumber = visit.accession
    request.IssuerOfAccessionNumberSequence = Sequence([issuer])
    request.StudyInstanceUID = ds.StudyInstanceUID
    request.RequestedProcedureDescription = "XR CHEST AP PORTABLE"
    request.RequestedProcedureCodeSequence = Sequence([procedure])
    request.ReasonForTheRequestedProcedure = f"Line and tube check, {person.plain_name} ({person.key})"
    request.ScheduledProcedureStepID = visit.scheduled_step_id
    request.ScheduledProcedureStepDescription = "NICU portable chest"
    ds.RequestAttributesSequence = Sequence([request])
    ds.PerformedProcedureStepID = visit.scheduled_step_id
    ds.PerformedProcedureStepStartDate = _da(taken)
    ds.PerformedProcedureStepStartTime = _tm(taken - dt.timedelta(minutes=4))
    ds.ImageComments = (
        f"NICU portable AP chest for baby {person.plain_name}, MRN {person.key}, "
        f"day of life {record.plan.day_of_life}"
    )


def _equipment(ds: Dataset, record: ImageRecord) -> None:
    p = record.profile
    ds.Manufacturer = p.manufacturer
    ds.ManufacturerModelName = p.model
    ds.SoftwareVersions = p.software
    ds.DeviceSerialNumber = record.staff.serial
    ds.InstitutionName = p.institution
    ds.InstitutionAddress = p.address
    ds.InstitutionalDepartmentName = "NICU"
    ds.StationName = p.station


def _acquisition(ds: Dataset, record: ImageRecord) -> None:
    p, e, taken = record.profile, record.exposure, record.visit.taken
    ds.Modality = p.modality
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "AP"
    ds.PatientOrientation = ["L", "F"]
    ds.AcquisitionDate = ds.ContentDate = _da(taken)
    ds.AcquisitionTime = _tm(taken)
    ds.ContentTime = _tm(taken + dt.timedelta(seconds=9))
    ds.AcquisitionDateTime = taken.strftime("%Y%m%d%H%M%S")
    ds.KVP = str(e.kvp)
    ds.Exposure = max(1, round(e.mas))
    ds.ExposureInuAs = round(e.mas * 1000)
    ds.ExposureTime = e.exposure_time_ms
    ds.XRayTubeCurrent = e.tube_current_ma
    ds.DistanceSourceToDetector = str(e.sid_mm)
    ds.ExposureIndex = str(record.image.exposure_index)
    ds.TargetExposureIndex = "1000"
    ds.DeviationIndex = f"{10 * math.log10(record.image.exposure_index / 1000):.2f}"
    spacing = f"{record.frame.spacing:.4f}".rstrip("0")
    if p.imager_spacing:  # Type 1 for DX, Type 3 for CR
        ds.ImagerPixelSpacing = [spacing, spacing]
    if p.pixel_spacing:
        ds.PixelSpacing = [spacing, spacing]
    if p.modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.DetectorType = p.detector_type
        ds.ImageLaterality = "U"
        sod = e.sid_mm / record.magnification
        ds.DistanceSourceToPatient = f"{sod:.1f}"
        ds.EstimatedRadiographicMagnificationFactor = f"{e.sid_mm / float(f'{sod:.1f}'):.6f}"
        ds.AnatomicRegionSequence = Sequence([_code("51185008", "SCT", "Chest")])
        ds.ViewCodeSequence = Sequence([_code("399348003", "SCT", "antero-posterior")])
        ds.AcquisitionContextSequence = Sequence()
        ds.PositionerType = "NONE"  # portable: detector under the infant, no positioner
    else:
        ds.Sensitivity = str(round(1000 / max(e.mas, 0.1)))
        ds.PlateID = f"P{record.staff.serial[-4:]}"


def _image_pixel(ds: Dataset, record: ImageRecord) -> None:
    p, image = record.profile, record.image
    rows, cols = image.pixels.shape
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = p.photometric
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated = 16
    ds.BitsStored = p.bits_stored
    ds.HighBit = p.bits_stored - 1
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "US"
    ds.WindowCenter = str(image.window_center)
    ds.WindowWidth = str(image.window_width)
    ds.LossyImageCompression = "00"
    ds.BurnedInAnnotation = "NO"
    if p.modality == "DX":
        mono1 = p.photometric == "MONOCHROME1"
        ds.PixelIntensityRelationship = "LOG"
        # +1: lower stored values mean less X-ray intensity (bone is low in MONOCHROME1)
        ds.PixelIntensityRelationshipSign = 1 if mono1 else -1
        ds.PresentationLUTShape = "INVERSE" if mono1 else "IDENTITY"
    ds.PixelData = image.pixels.astype("<u2").tobytes()


def compress(ds: Dataset, pixels: np.ndarray, syntax: str) -> None:
    """Lossless compression in place. pydicom encodes RLE and JPEG 2000 itself (through
    pylibjpeg); it has no JPEG lossless encoder, so that one comes from libjpeg-turbo via
    imagecodecs (process 14, selection value 1: what JPEGLosslessSV1 names)."""
    if syntax == ExplicitVRLittleEndian:
        return
    if syntax == JPEGLosslessSV1:
        import imagecodecs

        frame = imagecodecs.jpeg8_encode(pixels, lossless=True, predictor=1, bitspersample=int(ds.BitsStored))
        ds.PixelData = encapsulate([frame])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = syntax
    else:
        # pydicom would give the compressed file a new, random SOP Instance UID by default
        ds.compress(syntax, encoding_plugin="pylibjpeg", generate_instance_uid=False)


def _private(ds: Dataset, record: ImageRecord) -> None:
    spec = record.profile.private
    block = ds.private_block(spec.group, spec.creator, create=True)
    block.add_new(spec.info_offset, spec.info_vr, spec.info_value)
    block.add_new(spec.phi_offset, "LO", f"{record.patient.plain_name} {record.patient.key}")


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item
