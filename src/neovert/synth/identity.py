"""The PHI the de-identification stage has to remove: names, MRNs, dates, accession numbers.

Values are invented but realistic in form (Korean romanised names, 7-digit MRNs with a
hospital prefix, "ACC" accession numbers) and distinctive, so a byte scan of de-identified
output for any of them cannot hit by chance. Identifiers are bijective scrambles of
(hospital, patient/image), never random draws, so they are unique without bookkeeping.
Dates hang off a fixed base date; nothing reads the clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from neovert.synth import seeds
from neovert.synth.cohort import ImagePlan

BASE_DATE = dt.date(2018, 3, 1)
_FAMILIES = ("NAMGUNG", "HWANGBO", "JEGAL", "SEOMUN", "DOKGO", "SAGONG", "SEONU", "DONGBANG", "EOKJEONG",
             "JANGGOK", "MOKYEON", "BONGHWA")
_SYLLABLES = ("HWAN", "SEOL", "BYEOK", "YUL", "CHAN", "DAM", "HYEOK", "RYUN", "SEUL", "WOONG", "GYEOL",
              "BIT", "NARAE", "SOM", "JIOK", "TAEK", "HAE", "YEOP", "MIR", "BOM", "GAEUN", "DOL", "SARANG")
# Hangul spelling of every family name and syllable, for the sites that write Korean names
# (all in KS X 1001, so ISO 2022 IR 149 can encode them)
_HANGUL = {
    "NAMGUNG": "남궁", "HWANGBO": "황보", "JEGAL": "제갈", "SEOMUN": "서문", "DOKGO": "독고", "SAGONG": "사공",
    "SEONU": "선우", "DONGBANG": "동방", "EOKJEONG": "억정", "JANGGOK": "장곡", "MOKYEON": "목연",
    "BONGHWA": "봉화", "HWAN": "환", "SEOL": "설", "BYEOK": "벽", "YUL": "율", "CHAN": "찬", "DAM": "담",
    "HYEOK": "혁", "RYUN": "륜", "SEUL": "슬", "WOONG": "웅", "GYEOL": "결", "BIT": "빛", "NARAE": "나래",
    "SOM": "솜", "JIOK": "지욱", "TAEK": "택", "HAE": "해", "YEOP": "엽", "MIR": "미르", "BOM": "봄",
    "GAEUN": "가은", "DOL": "돌", "SARANG": "사랑",
}
# Identifier = base + (index * multiplier + seed offset) mod span: a bijection on the span
# because each multiplier is coprime to it (no factor 2, 3 or 5), so no two images collide.
_MRN_SPAN, _ACC_SPAN, _ID_SPAN = 9_000_000, 900_000_000, 90_000_000


@dataclasses.dataclass(frozen=True)
class Patient:
    key: str  # the hospital MRN, also PatientID and the CSV's patient_key
    mother_key: str  # the mother's MRN, linked in the infant's record
    family: str
    given: str  # two syllables run together
    syllables: tuple[str, str]
    birth: dt.datetime

    @property
    def dicom_name(self) -> str:
        return f"{self.family}^{self.given}"

    @property
    def korean_dicom_name(self) -> str:
        """Alphabetic and ideographic (Hangul) component groups, as Korean PACS write them."""
        return f"{self.dicom_name}={_HANGUL[self.family]}^{''.join(_HANGUL[s] for s in self.syllables)}"

    @property
    def plain_name(self) -> str:
        return f"{self.family} {self.given}"


@dataclasses.dataclass(frozen=True)
class Staff:
    """A hospital's people and devices, shared by all its images."""

    referring: tuple[str, ...]
    performing: tuple[str, ...]
    operators: tuple[str, ...]
    serial: str


@dataclasses.dataclass(frozen=True)
class Visit:
    """One image's study: when it was taken and the order numbers around it."""

    taken: dt.datetime
    accession: str
    study_id: str
    requested_procedure_id: str
    scheduled_step_id: str
    weight_kg: float


def patient(seed: int, hospital_index: int, patient_index: int, family_index: int | None = None) -> Patient:
    """The infant's identity. A twin (`family_index` is the first twin's patient index) has the
    first twin's mother, surname and birth date, born 1-30 minutes later, under its own MRN and
    given name."""
    family_index = patient_index if family_index is None else family_index
    g = hospital_index * 100_000 + patient_index
    mrn = 1_000_000 + (g * 4_567_891 + _offset(seed, _MRN_SPAN)) % _MRN_SPAN
    g_family = hospital_index * 100_000 + family_index
    mother = 1_000_000 + (g_family * 5_432_107 + _offset(seed + 1, _MRN_SPAN)) % _MRN_SPAN
    family, syllables, birth = _drawn(seeds.patient_rng(seed, hospital_index, family_index, seeds.Stream.IDENTITY))
    if family_index != patient_index:
        rng = seeds.patient_rng(seed, hospital_index, patient_index, seeds.Stream.IDENTITY)
        first_twin = syllables
        while syllables == first_twin:
            _, syllables, _ = _drawn(rng)
        birth += dt.timedelta(minutes=int(rng.integers(1, 31)))
    return Patient(
        key=f"H{hospital_index:02d}-{mrn}", mother_key=f"H{hospital_index:02d}-M{mother}", family=family,
        given="".join(syllables), syllables=syllables, birth=birth,
    )


def _drawn(rng: np.random.Generator) -> tuple[str, tuple[str, str], dt.datetime]:
    """Surname, the two syllables of the given name, and birth time (before 20:00, so a
    second twin is born the same day)."""
    family = str(rng.choice(_FAMILIES))
    first, second = (str(s) for s in rng.choice(_SYLLABLES, size=2))
    birth = dt.datetime.combine(BASE_DATE, dt.time()) + dt.timedelta(
        days=int(rng.integers(0, 1800)), seconds=int(rng.integers(0, 20 * 3600))
    )
    return family, (first, second), birth


def staff(seed: int, hospital_index: int) -> Staff:
    rng = seeds.hospital_rng(seed, hospital_index, seeds.Stream.STAFF)

    def names(count: int) -> tuple[str, ...]:
        return tuple(f"{rng.choice(_FAMILIES)}^{''.join(rng.choice(_SYLLABLES, size=2))}" for _ in range(count))

    return Staff(
        referring=names(4),
        performing=names(3),
        operators=names(3),
        serial=f"SN{int(rng.integers(10**7, 10**8))}",
    )


def visit(seed: int, plan: ImagePlan, person: Patient, rng: np.random.Generator) -> Visit:
    """Study time on the plan's day of life (after birth on day 0) and the order numbers."""
    day = dt.datetime.combine(person.birth.date(), dt.time()) + dt.timedelta(days=plan.day_of_life)
    # after birth on day 0, and never in the first minutes of a day (study time is a bit earlier)
    earliest = (person.birth - day).total_seconds() + 1800 if plan.day_of_life == 0 else 600
    taken = day + dt.timedelta(seconds=int(rng.integers(int(earliest), 86_400)))
    g = plan.hospital_index * 100_000 + plan.number
    accession = 100_000_000 + (g * 612_345_679 + _offset(seed, _ACC_SPAN)) % _ACC_SPAN
    order = 10_000_000 + (g * 48_271_393 + _offset(seed + 1, _ID_SPAN)) % _ID_SPAN
    dol = plan.day_of_life
    weight = plan.bw_grams * (1 - 0.08 * min(dol, 6) / 6 + 0.015 * max(0, dol - 10)) / 1000
    return Visit(
        taken=taken,
        accession=f"ACC{accession}",
        study_id=f"ST{order}",
        requested_procedure_id=f"RP{order}",
        scheduled_step_id=f"SPS{order}",
        weight_kg=round(weight, 3),
    )


def _offset(seed: int, span: int) -> int:
    """Seed-dependent shift of the scrambles, so another seed gives other identifiers."""
    return (seed * 2_654_435_761) % span
