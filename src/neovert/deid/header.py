"""Header de-identification driven by PS3.15 Table E.1-1 (`neovert.annex_e`), at every depth.

The output is a new dataset built element by element, so nothing reaches it unless a rule put it
there. Per element, in this order:

- private attributes, group lengths, (FFFC,FFFC) padding: removed (no Retain Safe Private);
- overlay groups (60xx) whole: removed, which is how the Clean Graphics option is applied;
- listed attributes: the Annex E action resolved for this IOD with the study's options
  (X remove, Z empty, D dummy, K keep, C clean, U keyed UID);
- unlisted attributes (the table lists what may identify, not what is safe): dates and
  date-times are shifted like listed ones, code meanings are cleaned like descriptors, other
  free-text VRs are removed unless named in SAFE_TEXT, everything else (pixel module, geometry,
  codes) is kept. Sequences are always walked.

C means: dates shifted by the patient's keyed offset (Retain Longitudinal Temporal Information
with Modified Dates); descriptors kept only when every word is in a small clinical vocabulary
(Clean Descriptors), emptied otherwise.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from neovert import annex_e
from neovert.pseudonym import Pseudonymizer

FREE_TEXT_VRS = frozenset({"AE", "LO", "LT", "PN", "SH", "ST", "UC", "UT", "UR", "UN"})
# unlisted short texts that name equipment or code systems, never a person or a place
SAFE_TEXT = frozenset({
    "Manufacturer", "ManufacturerModelName", "CodeValue", "CodingSchemeDesignator",
    "CodingSchemeVersion", "RescaleType", "ContextIdentifier", "MappingResource",
})
# unlisted texts that are free prose in principle: kept only in clinical vocabulary, like descriptors
CLEANED_TEXT = frozenset({"CodeMeaning", "PixelSpacingCalibrationDescription"})
# words a radiograph descriptor may keep under Clean Descriptors: anatomy, views, modality words
SAFE_WORDS = frozenset("""
AP PA LAT LATERAL LL RL DECUBITUS SUPINE ERECT PRONE PORTABLE BEDSIDE MOBILE VIEW VIEWS
CHEST THORAX ABDOMEN ABDOMINAL BABYGRAM BABY WHOLE BODY LUNG LUNGS SPINE XR X RAY XRAY RADIOGRAPH
CR DX NEONATAL NEONATE NEWBORN INFANT PAEDIATRIC PEDIATRIC AND OF WITH FOR LEFT RIGHT L R
1 2 3 ONE TWO SINGLE FRONTAL PROJECTION TUBE LINE LINES POSITION CHECK
ANTERO POSTERO ANTERIOR POSTERIOR LEFTRIGHT RIGHTLEFT MEDIOLATERAL
""".split())
DUMMY = {"DA": "19000101", "DT": "19000101000000", "TM": "000000", "PN": "ANONYMOUS",
         "IS": "0", "DS": "0", "US": 0, "SS": 0, "UL": 0, "SL": 0, "FL": 0.0, "FD": 0.0}
OVERLAY_GROUPS = range(0x6000, 0x6100, 2)


@dataclass(frozen=True)
class Context:
    """What the rules need besides the element: the IOD, the keys and this patient's shift."""

    sop_class_uid: str
    pseudo: Pseudonymizer
    shift: dt.timedelta


def clean_header(source: Dataset, context: Context) -> tuple[Dataset, Counter]:
    """The de-identified copy of `source` (without file meta) and counts per action taken."""
    counts: Counter = Counter()
    return _clean(source, context, counts), counts


def _clean(source: Dataset, context: Context, counts: Counter) -> Dataset:
    out = Dataset()
    for tag in source.keys():
        if tag.is_private or tag.element == 0 or tag == 0xFFFCFFFC:
            counts["X"] += 1
            counts["private_or_padding"] += 1
            continue
        if tag.group in OVERLAY_GROUPS:
            counts["X"] += 1
            counts["graphics"] += 1
            continue
        element = source[tag]
        listed = annex_e.action(int(tag), context.sop_class_uid)
        action = listed or _unlisted(element)
        counts[action] += 1
        counts["unlisted_text"] += listed is None and action == "X"
        if action == "X":
            continue
        value = _apply(action, element, context, counts)
        if value is not None:
            out.add_new(tag, element.VR, value)
    return out


def _unlisted(element) -> str:
    if element.VR in ("DA", "DT") or element.keyword in CLEANED_TEXT:
        return "C"
    if element.VR in FREE_TEXT_VRS and element.keyword not in SAFE_TEXT:
        return "X"
    return "K"


def _apply(action: str, element, context: Context, counts: Counter):
    """The new value for an element the action keeps in some form (None: leave it out)."""
    if element.VR == "SQ":
        if action == "Z":
            return Sequence()
        return Sequence([_clean(item, context, counts) for item in element.value])
    value = element.value
    if action == "K":
        return value
    if action == "Z":
        return None if element.VR in ("US", "SS", "UL", "SL", "FL", "FD") else ""
    if action == "U":
        return _each(value, lambda uid: context.pseudo.uid(str(uid)))
    if action == "D":
        if element.VR == "UI":
            return _each(value, lambda uid: context.pseudo.uid(str(uid)))
        return DUMMY.get(element.VR, "ANONYMIZED")
    # C: shift dates, clean free text, keep the rest (times carry no date)
    if element.VR == "DA":
        return _each(value, lambda v: shift_date(str(v), context.shift))
    if element.VR == "DT":
        return _each(value, lambda v: shift_datetime(str(v), context.shift))
    if element.VR in FREE_TEXT_VRS:
        return _each(value, clean_text)
    return value


def _each(value, change):
    if isinstance(value, MultiValue | list):
        return [change(v) for v in value]
    return change(value) if value not in (None, "") else value


def shift_date(value: str, shift: dt.timedelta) -> str:
    """A DA moved back by `shift`; a value that is not a valid date becomes empty (it may still
    be identifying, and a wrong date is worse than none)."""
    try:
        return (dt.datetime.strptime(value.strip()[:8], "%Y%m%d") - shift).strftime("%Y%m%d")
    except ValueError:
        return ""


def shift_datetime(value: str, shift: dt.timedelta) -> str:
    """A DT moved back by `shift`: the date part shifts, time and UTC offset stay."""
    value = value.strip()
    shifted = shift_date(value[:8], shift)
    return shifted + value[8:] if shifted else ""


def clean_text(value: str) -> str:
    """Clean Descriptors: keep a descriptor only if every word is clinical vocabulary."""
    words = [w for w in re.split(r"[^A-Z0-9]+", str(value).upper()) if w]
    return str(value) if words and all(w in SAFE_WORDS for w in words) else ""
