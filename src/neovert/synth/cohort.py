"""Cohort composition: Table 1 of the paper, quota allocation, and the per-image plan.

The demo cohort has to look like the paper's at every scale, so group sizes are *allocated*
(largest-remainder quotas of the Table 1 shares), not drawn: a 1 % cohort then still has the
hospital's GA/BW/tube mix to within one image, and scale 1.0 reproduces the 14,660 images.
Everything an image's header and CSV row need about the infant is decided here, from seeded
streams, before any pixel is drawn; rendering only reads the plan.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from neovert.synth import seeds

# Group k (0..2) is GA0{k+1} / BW0{k+1} of Table 1. Inclusive ranges in tenths of a week and
# in grams: GA01 <28 wk, GA02 28-32 wk, GA03 >=33 wk; BW01 <1000 g, BW02 1000-1499 g,
# BW03 >=1500 g (cohort limits 23.0-41.9 wk, 450-4200 g).
GA_TENTHS = ((230, 279), (280, 329), (330, 419))
BW_GRAMS = ((450, 999), (1000, 1499), (1500, 4200))
# Images per infant: mostly one or two, a tail up to four (ECR 2017 poster numbers, NICU-heavy).
IMAGES_PER_PATIENT_P = (0.60, 0.22, 0.12, 0.06)
# A patient's images after the first follow at 1-10 day gaps; day of life never passes 60.
MAX_DAY_OF_LIFE = 60
# Share of infants who are one of a twin pair (2-3 % of NICU infants; higher multiples left out).
TWIN_SHARE = 0.025
# Spread of a co-twin's birth weight around the first twin's (log scale): most pairs differ by
# under 15 %, a few are discordant.
TWIN_BW_SIGMA = 0.08


@dataclasses.dataclass(frozen=True)
class HospitalRow:
    """One row of the paper's Table 1 (percentages as printed; some rows sum to 100.1)."""

    hospital: str
    images: int
    ga_pct: tuple[float, float, float]
    bw_pct: tuple[float, float, float]
    tube_pct: float


TABLE1: tuple[HospitalRow, ...] = (
    HospitalRow("H01", 1700, (72.5, 7.5, 20.0), (73.3, 6.8, 19.9), 69.4),
    HospitalRow("H02", 1206, (28.4, 20.6, 51.0), (28.5, 19.6, 51.9), 67.5),
    HospitalRow("H03", 1974, (36.8, 24.8, 38.4), (33.5, 17.3, 49.2), 64.7),
    HospitalRow("H04", 826, (16.6, 24.0, 59.4), (18.6, 15.6, 65.8), 70.0),
    HospitalRow("H05", 1384, (14.9, 12.9, 72.2), (15.1, 11.5, 73.4), 72.6),
    HospitalRow("H06", 989, (25.8, 22.5, 51.7), (20.2, 28.2, 51.6), 66.5),
    HospitalRow("H07", 443, (49.0, 40.9, 10.2), (31.0, 65.2, 3.8), 62.7),
    HospitalRow("H08", 3096, (38.3, 25.2, 36.5), (39.9, 19.8, 40.3), 64.1),
    HospitalRow("H09", 1815, (59.6, 26.6, 13.8), (56.8, 30.9, 12.3), 70.1),
    HospitalRow("H10", 407, (22.1, 22.6, 55.3), (32.4, 14.7, 52.8), 72.5),
    HospitalRow("H11", 820, (93.7, 1.3, 5.0), (22.6, 16.0, 61.5), 67.6),
)


@dataclasses.dataclass(frozen=True)
class Allocation:
    """Exact group sizes for one hospital's image count."""

    ga: tuple[int, int, int]
    bw: tuple[int, int, int]
    tube: int


@dataclasses.dataclass(frozen=True)
class ImagePlan:
    """Everything known about one image before drawing it.

    `patient_index` and `image_index` (within the patient) feed the image's random stream;
    `family_index` is the first twin's patient_index for both twins (a singleton's own), so
    twins share mother, surname and birth; `number` is the neutral per-hospital file number
    (IMG00001 ...).
    """

    hospital_index: int  # 1..11
    hospital: str
    patient_index: int
    family_index: int
    image_index: int
    number: int
    ga_group: int
    bw_group: int
    ga_weeks: float
    bw_grams: int
    sex: str
    tube: bool
    day_of_life: int

    @property
    def stem(self) -> str:
        return f"IMG{self.number:05d}"


def largest_remainder(total: int, shares: Sequence[float]) -> list[int]:
    """Split `total` in proportion to `shares`: floors first, then the largest remainders.

    Shares need not sum to 100 (Table 1 rows are rounded); ties go to the earlier group so the
    result does not depend on float noise in a sort.
    """
    weights = np.asarray(shares, dtype=float)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(int)
    remainders = exact - counts
    order = sorted(range(len(weights)), key=lambda k: (-round(remainders[k], 9), k))
    for k in order[: total - int(counts.sum())]:
        counts[k] += 1
    return [int(c) for c in counts]


def image_count(row: HospitalRow, scale: float, per_hospital: int | None) -> int:
    """`per_hospital` overrides Table 1; otherwise max(1, round(count * scale))."""
    if per_hospital is not None:
        if per_hospital < 1:
            raise ValueError(f"per_hospital must be >= 1, got {per_hospital}")
        return per_hospital
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    return max(1, round(row.images * scale))


def allocate(row: HospitalRow, n: int) -> Allocation:
    """Group quotas of one hospital for `n` images."""
    ga = largest_remainder(n, row.ga_pct)
    bw = largest_remainder(n, row.bw_pct)
    tube = largest_remainder(n, (row.tube_pct, 100.0 - row.tube_pct))[0]
    return Allocation(ga=(ga[0], ga[1], ga[2]), bw=(bw[0], bw[1], bw[2]), tube=tube)


def plan_hospital(hospital_index: int, n: int, seed: int) -> list[ImagePlan]:
    """The ordered image plans of one hospital (file numbers 1..n).

    GA and BW group lists are both sorted and paired index by index, so small GA goes with
    small BW; runs of equal (GA, BW) pairs are cut into patients of 1-4 images. Some neighbours
    in a run become twins (`_twin_pairs`): the second twin takes the first's GA and a similar
    BW in the same groups, so every quota holds with or without them. Patients are then shuffled
    before numbering so that a file number says nothing about the infant.
    """
    row = TABLE1[hospital_index - 1]
    quota = allocate(row, n)
    rng = seeds.hospital_rng(seed, hospital_index, seeds.Stream.COHORT)
    ga_groups = np.repeat(np.arange(3), quota.ga)
    bw_groups = np.repeat(np.arange(3), quota.bw)
    patients: list[tuple[int, int, int]] = []  # (ga group, bw group, images)
    for (ga, bw), run in itertools.groupby(zip(ga_groups.tolist(), bw_groups.tolist())):
        left = len(list(run))
        while left:
            size = min(left, int(rng.choice(len(IMAGES_PER_PATIENT_P), p=IMAGES_PER_PATIENT_P)) + 1)
            patients.append((ga, bw, size))
            left -= size
    order = rng.permutation(len(patients))
    tubes = np.zeros(n, dtype=bool)
    tubes[rng.permutation(n)[: quota.tube]] = True
    position = np.argsort(order)  # patients[k] gets patient_index position[k]
    family_of: dict[int, int] = {}
    for pair in _twin_pairs(patients, seeds.hospital_rng(seed, hospital_index, seeds.Stream.FAMILY)):
        first, second = sorted(int(position[k]) for k in pair)
        family_of[second] = first

    plans: list[ImagePlan] = []
    drawn: dict[int, tuple[float, int]] = {}  # GA and BW of each patient so far
    for patient_index, k in enumerate(order.tolist()):
        ga, bw, size = patients[k]
        prng = seeds.patient_rng(seed, hospital_index, patient_index, seeds.Stream.CLINICAL)
        ga_weeks, bw_grams = _draw_ga_bw(prng, ga, bw)
        sex = "M" if prng.random() < 0.53 else "F"
        days = _days_of_life(prng, size)
        family = family_of.get(patient_index, patient_index)
        if family != patient_index:
            ga_weeks, bw_grams = drawn[family][0], _co_twin_weight(prng, drawn[family][1], bw)
        drawn[patient_index] = ga_weeks, bw_grams
        for image_index, dol in enumerate(days):
            plans.append(
                ImagePlan(
                    hospital_index=hospital_index,
                    hospital=row.hospital,
                    patient_index=patient_index,
                    family_index=family,
                    image_index=image_index,
                    number=len(plans) + 1,
                    ga_group=ga,
                    bw_group=bw,
                    ga_weeks=ga_weeks,
                    bw_grams=bw_grams,
                    sex=sex,
                    tube=bool(tubes[len(plans)]),
                    day_of_life=dol,
                )
            )
    return plans


def _twin_pairs(patients: list[tuple[int, int, int]], rng: np.random.Generator) -> list[tuple[int, int]]:
    """Pairs of `patients` (indices) that are twins: neighbours in one run of equal (GA, BW)
    groups, so both twins are in the same groups. TWIN_SHARE / 2 pairs per patient, rounded up
    or down at random in proportion, so a small hospital has a pair as often as it should on
    average and the cohort's share is right at any scale."""
    wanted = len(patients) * TWIN_SHARE / 2
    count = int(wanted) + int(rng.random() < wanted - int(wanted))
    neighbours = [k for k in range(len(patients) - 1) if patients[k][:2] == patients[k + 1][:2]]
    pairs: list[tuple[int, int]] = []
    taken: set[int] = set()
    for k in rng.permutation(neighbours).tolist():
        if len(pairs) == count:
            break
        if k not in taken and k + 1 not in taken:
            pairs.append((k, k + 1))
            taken.update((k, k + 1))
    return pairs


def _co_twin_weight(rng: np.random.Generator, first_grams: int, bw_group: int) -> int:
    """The second twin's birth weight: near the first's, inside the pair's BW group."""
    lo, hi = BW_GRAMS[bw_group]
    return int(np.clip(round(first_grams * np.exp(rng.normal(0.0, TWIN_BW_SIGMA))), lo, hi))


def _draw_ga_bw(rng: np.random.Generator, ga_group: int, bw_group: int) -> tuple[float, int]:
    """Exact GA and BW inside their groups, sharing one quantile so they stay correlated."""
    q = rng.random()
    q_bw = float(np.clip(q + rng.normal(0.0, 0.15), 0.0, 1.0))
    lo, hi = GA_TENTHS[ga_group]
    ga_weeks = (lo + round(q * (hi - lo))) / 10
    lo, hi = BW_GRAMS[bw_group]
    bw_grams = lo + round(q_bw * (hi - lo))
    return ga_weeks, bw_grams


def _days_of_life(rng: np.random.Generator, images: int) -> list[int]:
    """Strictly increasing days of life (0-60): most first films in the first days."""
    kind = rng.random()
    if kind < 0.70:
        first = int(rng.integers(0, 4))
    elif kind < 0.90:
        first = int(rng.integers(4, 15))
    else:
        first = int(rng.integers(15, 46))
    days = np.cumsum(np.concatenate([[first], rng.integers(1, 11, images - 1)]))
    days -= max(0, int(days[-1]) - MAX_DAY_OF_LIFE)
    return [int(d) for d in days]


def plan_cohort(scale: float, seed: int, per_hospital: int | None = None) -> list[ImagePlan]:
    """Every image `generate_cohort` draws at this scale, hospital by hospital, in file order."""
    return [plan for index, row in enumerate(TABLE1, start=1)
            for plan in plan_hospital(index, image_count(row, scale, per_hospital), seed)]


def split_manifest(scale: float, seed: int, per_hospital: int | None = None) -> pd.DataFrame:
    """The split stage's input columns for the planned cohort, without drawing a pixel.

    Lets the split be tested and benchmarked at full scale (14,660 rows in about a second)
    on exactly the cohort `generate_cohort` would write; ids are stand-ins for deid's pseudonyms.
    """
    rows = []
    for plan in plan_cohort(scale, seed, per_hospital):
        patient = f"{plan.hospital}p{plan.patient_index:05d}"
        rows.append((f"{patient}_{plan.image_index + 1:02d}", patient, f"{plan.hospital}f{plan.family_index:05d}",
                     plan.hospital, f"GA0{plan.ga_group + 1}", f"BW0{plan.bw_group + 1}", int(plan.tube)))
    return pd.DataFrame(rows, columns=["case_id", "patient_id", "family_id", "hospital", "ga_group", "bw_group",
                                       "tube"])
