"""Per-image anatomy: body size from GA/BW, then every structure as primitives in body mm.

The design goal is that T1, T7 and T12 can only be found by counting: C2-L5 are drawn with
one vertebra model (rounded-rectangle centrum with a cortical rim, pedicles, disc gaps) whose
size grows smoothly from C2 to L5, and the landmarks near them (clavicles near C6-T1, rib 1
on T1, heart over T5-T10, diaphragm domes at T8-T10) are all jittered. The rib cage lies now
and then: an absent or hypoplastic 12th rib ("last rib = T12" fails) and a cervical rib on C7
("first rib = T1" fails), and a lordotic tilt flattens the ribs and lifts the clavicles.
The pose varies too: arms raised beside the head or down along the trunk (scapulae and
humeri move with them), and the baby turned a few degrees about its long axis, which moves
the spine against the chest wall. Sizes are in the detector plane (already magnified).
Numbers come from synthetic-cohort.md 2b-2d and 4.2; the [E]-marked ones there are knobs,
not facts.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from neovert.synth.primitives import Arc, Blob, Primitive, Region, Trunk, rotate

LEVELS: tuple[str, ...] = (
    tuple(f"C{i}" for i in range(2, 8)) + tuple(f"T{i}" for i in range(1, 13)) + tuple(f"L{i}" for i in range(1, 6))
)
_T1 = LEVELS.index("T1")
MU_SOFT = 0.030  # soft tissue at ~36 keV, per mm (notes 2f)
# T1 is about 0.8 x T12 in height and width; the same ratio per level continues into C and L.
_GROWTH = 1.25 ** (1 / 11)
# Rib variants and pose (notes 4.2, design choices): 12th rib absent / hypoplastic, cervical
# rib on C7, and a lordotic tilt of 10-20 degrees in a share of the films.
P_ABSENT_12TH_RIB = 0.04
P_HYPOPLASTIC_12TH_RIB = 0.04
P_CERVICAL_RIB = 0.03
P_LORDOTIC = 0.12
LORDOTIC_DEG = 10.0  # from this tilt on a film counts as lordotic (a hard case in the clinical sheet)
# Pose (notes 4.2, shares [E]): arms (patient right, left) up beside the head, down along the
# trunk, or one of each; the baby turned about its long axis within 5 degrees in most films and
# by 5-15 degrees in the rest.
ARM_POSES: dict[tuple[bool, bool], float] = {
    (True, True): 0.4, (False, False): 0.4, (True, False): 0.1, (False, True): 0.1,
}
P_TURNED = 0.2
TURNED_DEG = (5.0, 15.0)
# Depth in the chest (share of its half depth, anterior positive) of the structures a turned
# baby moves sideways in projection; the chest wall, at depth 0 where it is widest, stays put.
DEPTH_SPINE = -0.4
DEPTH_SCAPULA = -0.6  # and the shoulder joint, which the arm hangs from
DEPTH_HEART = 0.15  # the cardiomediastinal borders
DEPTH_STERNUM = 0.8  # the medial clavicle ends
HUMERAL_HEAD = 0.06  # radius of the (cartilaginous) humeral head, share of the T1-T12 length


@dataclasses.dataclass(frozen=True)
class Scene:
    """Everything drawn in one image, in body mm, plus what framing and labels need."""

    trunk: Trunk
    primitives: tuple[Primitive, ...]
    vertebrae: dict[str, Blob]  # drawn centrum per level, C2..L5 (the label quadrilaterals)
    lungs: tuple[Region, Region]  # patient right, patient left
    lung_texture: float  # 0 clear .. 1 ground glass (RDS)
    magnification: float
    rib_pairs: int  # 11 when the 12th rib is absent
    cervical_rib: bool
    lordosis_deg: float  # beam tilt toward the head; positive = lordotic projection
    axial_rotation_deg: float  # turn about the long axis; positive = right side lifted off the detector
    arms_up: tuple[bool, bool]  # patient right, left
    scapulae: tuple[Region, Region]  # patient right, left; the first vertex is the glenoid
    humeri: tuple[Arc, Arc]  # patient right, left
    liver: Blob
    # where devices run and end (body mm): larynx, carina, stomach, right_dome, left_dome
    landmarks: dict[str, tuple[float, float]]

    def spine_x(self, y: float) -> float:
        """x of the spine centreline at height y, interpolated between centra."""
        ys = [b.cy for b in self.vertebrae.values()]
        xs = [b.cx for b in self.vertebrae.values()]
        return float(np.interp(y, ys, xs))


@dataclasses.dataclass(frozen=True)
class _Body:
    """Per-image sizes every structure is scaled from."""

    vertebrae: dict[str, Blob]  # centrum geometry (density set when drawn)
    pitch: float  # mean thoracic body + disc height
    spine_length: float  # superior T1 to inferior T12 endplate
    wmax: float  # widest inner half-width of the thorax
    mu_bone: float  # effective bone attenuation, lower in extreme preterms (osteopenia)
    ga_weeks: float
    lordosis_deg: float
    turn: float  # wmax * sin(axial rotation): lateral shift per unit depth

    def shift(self, depth: float) -> float:
        """Sideways shift in projection of a structure at `depth` (DEPTH_*) when the baby is
        turned: x' = x cos(a) + z sin(a), with cos(a) ~ 1 at these angles."""
        return depth * self.turn

    def level_y(self, level: str, frac: float = 0.5) -> float:
        """Height of a point on a centrum: frac 0 = superior endplate, 1 = inferior."""
        blob = self.vertebrae[level]
        return blob.cy + (frac - 0.5) * 2 * blob.b

    def inner(self, y: float) -> float:
        """Inner half-width of the thorax (the lateral lung edge) at height y."""
        levels = ("C6", "C7", "T1", "T2", "T3", "T4", "T6", "T8", "T10", "T12", "L2", "L5")
        shares = (0.34, 0.48, 0.62, 0.76, 0.85, 0.91, 0.97, 1.0, 1.0, 0.96, 0.92, 0.90)
        return float(np.interp(y, [self.level_y(lv) for lv in levels], shares)) * self.wmax


def build_scene(ga_weeks: float, bw_grams: int, rng: np.random.Generator) -> Scene:
    """Draw one infant's anatomy. Only `rng` (the image's anatomy stream) is random."""
    magnification = rng.uniform(1.02, 1.10)
    if rng.random() < P_LORDOTIC:
        lordosis = rng.uniform(LORDOTIC_DEG, 20.0)
    else:
        lordosis = float(np.clip(rng.normal(0.0, 4.0), -10.0, 0.9 * LORDOTIC_DEG))
    variant = rng.random()
    twelfth = "absent" if variant < P_ABSENT_12TH_RIB else (
        "hypoplastic" if variant < P_ABSENT_12TH_RIB + P_HYPOPLASTIC_12TH_RIB else "normal")
    cervical_rib = bool(rng.random() < P_CERVICAL_RIB)
    rotation = _axial_rotation(rng)
    poses = list(ARM_POSES)
    arms_up = poses[int(rng.choice(len(poses), p=list(ARM_POSES.values())))]
    spine_length = _spine_length(ga_weeks, bw_grams, rng) * magnification
    wmax = spine_length * rng.uniform(0.50, 0.56)
    turn = wmax * math.sin(math.radians(rotation))
    vertebrae, pitch = _spine(spine_length, DEPTH_SPINE * turn, rng)
    body = _Body(
        vertebrae=vertebrae,
        pitch=pitch,
        spine_length=spine_length,
        wmax=wmax,
        mu_bone=float(0.040 + 0.025 * np.clip((ga_weeks - 23) / 17, 0, 1)) * rng.uniform(0.85, 1.15),
        ga_weeks=ga_weeks,
        lordosis_deg=lordosis,
        turn=turn,
    )
    trunk = _trunk(body, rng)
    heart, domes = _heart(body, rng)
    lungs, texture = _lungs(body, heart, domes, rng)
    airway = _airway(body, rng)
    stomach = _gastric_bubble(body, domes, rng)
    liver = _liver(body, domes, rng)
    primitives: list[Primitive] = [*lungs, heart, liver, *airway]
    if rng.random() < 0.75:
        primitives.append(stomach)
    primitives += _pelvis(body)
    drawn = {level: _vertebra(blob, body.mu_bone) for level, blob in vertebrae.items()}
    for parts in drawn.values():
        primitives += parts
    primitives += _ribs(body, twelfth, cervical_rib, rng)
    primitives += _clavicles(body, trunk, arms_up, rng)
    scapulae, humeri = [], []
    for side, up in zip((-1, 1), arms_up):
        scapula = _scapula(body, trunk, side, up, rng)
        humerus, rest = _arm(body, trunk, scapula.points[0], side, up, rng)
        scapulae.append(scapula)
        humeri.append(humerus)
        primitives += [scapula, humerus, *rest]
    return Scene(
        trunk=trunk,
        primitives=tuple(primitives),
        vertebrae={level: parts[0] for level, parts in drawn.items()},
        lungs=lungs,
        lung_texture=texture,
        magnification=magnification,
        rib_pairs=11 if twelfth == "absent" else 12,
        cervical_rib=cervical_rib,
        lordosis_deg=lordosis,
        axial_rotation_deg=rotation,
        arms_up=arms_up,
        scapulae=(scapulae[0], scapulae[1]),
        humeri=(humeri[0], humeri[1]),
        liver=liver,
        landmarks={
            "larynx": (airway[0].cx, airway[0].cy - airway[0].b),
            "carina": (airway[0].cx, airway[0].cy + airway[0].b),
            "stomach": (stomach.cx, stomach.cy),
            "right_dome": (-0.5 * body.wmax, domes[0]),
            "left_dome": (0.5 * body.wmax, domes[1]),
        },
    )


def _axial_rotation(rng: np.random.Generator) -> float:
    """Degrees the baby is turned about its long axis (positive: right side lifted)."""
    if rng.random() < P_TURNED:
        return float(rng.choice([-1.0, 1.0]) * rng.uniform(*TURNED_DEG))
    return float(np.clip(rng.normal(0.0, 2.5), -TURNED_DEG[0], TURNED_DEG[0]))


def _spine_length(ga_weeks: float, bw_grams: int, rng: np.random.Generator) -> float:
    """T1-T12 length: ~65-80 mm before 32 wk, 80-90 mm at 32-36 wk, 90-110 mm at term.

    Birth weight moves it by the cube-root-ish ratio to the Fenton median for that GA, so a
    growth-restricted infant is drawn smaller than a well-grown one of the same GA.
    """
    base = np.interp(ga_weeks, [23, 28, 32, 37, 42], [64, 71, 80, 90, 104])
    median_bw = np.interp(ga_weeks, [23, 24, 28, 32, 36, 40, 42], [550, 650, 1100, 1700, 2600, 3400, 3700])
    size = base * (bw_grams / median_bw) ** 0.2 * math.exp(rng.normal(0, 0.05))
    return float(np.clip(size, 58, 112))


def _spine(spine_length: float, offset: float, rng: np.random.Generator) -> tuple[dict[str, Blob], float]:
    """Centra C2..L5 on a gently curved line `offset` mm beside the chest's midline (a turned
    baby); returns them and the mean thoracic pitch."""
    body_frac = rng.uniform(0.56, 0.65)  # body height / (body + disc); discs are thick in neonates
    aspect = rng.uniform(1.35, 1.65)  # width / height
    growth = _GROWTH ** (np.arange(len(LEVELS)) - _T1)
    # superior T1 to inferior T12 = pitches T1..T11 + body T12
    unit = spine_length / (growth[_T1 : _T1 + 11].sum() + body_frac * growth[_T1 + 11])
    pitches = unit * growth * rng.uniform(0.98, 1.02, len(LEVELS))
    tops = np.empty(len(LEVELS))
    tops[_T1] = 0.0
    for k in range(_T1 + 1, len(LEVELS)):
        tops[k] = tops[k - 1] + pitches[k - 1]
    for k in range(_T1 - 1, -1, -1):
        tops[k] = tops[k + 1] - pitches[k]
    heights = body_frac * pitches
    # a gentle scoliotic wave (a few mm) so the spine is never a perfectly straight column
    amplitude = rng.uniform(0, 3.0)
    wavelength = spine_length * rng.uniform(1.5, 3.0)
    phase = rng.uniform(0, 2 * math.pi)
    vertebrae = {}
    for k, level in enumerate(LEVELS):
        cy = tops[k] + heights[k] / 2
        cx = offset + amplitude * math.sin(2 * math.pi * cy / wavelength + phase)
        slope = amplitude * 2 * math.pi / wavelength * math.cos(2 * math.pi * cy / wavelength + phase)
        vertebrae[level] = Blob(
            cx=cx, cy=cy, a=aspect * heights[k] / 2, b=heights[k] / 2, angle=-math.atan(slope), n=3.5, density=0.0
        )
    return vertebrae, float(pitches[_T1 : _T1 + 12].mean())


def _vertebra(centrum: Blob, mu_bone: float) -> list[Blob]:
    """Centrum (slab with cortex) plus the two pedicle rings that sit on its lateral margins."""
    density = mu_bone * 0.9 * centrum.a  # AP depth of a neonatal centrum is about its width
    pedicles = []
    c, s = math.cos(centrum.angle), math.sin(centrum.angle)
    for side in (-1, 1):
        dx = side * 0.78 * centrum.a
        pedicles.append(
            Blob(
                cx=centrum.cx + dx * c, cy=centrum.cy + dx * s, a=0.16 * centrum.a, b=0.55 * centrum.b,
                angle=centrum.angle, n=2.0, density=0.5 * density, rim=1.5,
            )
        )
    return [dataclasses.replace(centrum, density=density, rim=0.35), *pedicles]


def _trunk(body: _Body, rng: np.random.Generator) -> Trunk:
    """Neck, rounded shoulders, chest and abdomen as one elliptic cylinder of varying width."""
    wmax, y = body.wmax, body.level_y
    wall = rng.uniform(4.0, 7.0) * wmax / 50
    shoulder = rng.uniform(1.05, 1.25) * wmax
    ys = (y("C2"), y("C4"), y("C5"), y("C6"), y("C7"), y("T1"), y("T2"), y("T4"), y("T6"), y("T8"),
          y("T12"), y("L3"), y("L5") + 40)
    half = (0.36 * wmax, 0.40 * wmax, 0.50 * shoulder, 0.68 * shoulder, 0.85 * shoulder, 0.95 * shoulder,
            shoulder, max(0.97 * shoulder, body.inner(ys[7]) + wall), *(body.inner(v) + wall for v in ys[8:12]),
            body.inner(ys[11]) + wall)
    depth = tuple(2 * min(w, wmax + wall) * (0.9 if k < 3 else 1.0) for k, w in enumerate(half))
    return Trunk(y_knots=ys, half_width=half, depth=depth, mu=MU_SOFT)


def _heart(body: _Body, rng: np.random.Generator) -> tuple[Blob, tuple[float, float]]:
    """Heart ellipse (CTR 0.48-0.6, about a third right of the midline, apex down and left)
    and the diaphragm dome heights (patient right, left): the heart rests on the left dome,
    and the right dome is a little higher."""
    pitch = body.pitch
    right_dome = body.level_y("T8", 0.0) + rng.uniform(0.0, 2.6) * pitch
    left_dome = right_dome + rng.uniform(0.2, 0.6) * pitch
    half_w = rng.uniform(0.48, 0.60) * body.wmax
    right_share = rng.uniform(0.27, 0.38)
    half_h = half_w * rng.uniform(0.80, 0.95)
    bottom = left_dome + rng.uniform(0.8, 1.2) * pitch  # the rest hides below the dome
    heart = Blob(
        cx=half_w * (1 - 2 * right_share) + body.shift(DEPTH_HEART), cy=bottom - half_h, a=half_w, b=half_h,
        angle=rng.uniform(0.15, 0.45), n=2.0, density=MU_SOFT * 0.06 * 2 * half_w, profile="dome",
    )
    return heart, (right_dome, left_dome)


def _ellipse_x_span(blob: Blob, y: float) -> tuple[float, float] | None:
    """x extent of a rotated ellipse (n = 2) at height y, or None above/below it."""
    c, s = math.cos(blob.angle), math.sin(blob.angle)
    dy = y - blob.cy
    qa = c * c / blob.a**2 + s * s / blob.b**2
    qb = 2 * dy * (c * s / blob.a**2 - s * c / blob.b**2)
    qc = dy * dy * (s * s / blob.a**2 + c * c / blob.b**2) - 1
    disc = qb * qb - 4 * qa * qc
    if disc <= 0:
        return None
    root = math.sqrt(disc)
    return blob.cx + (-qb - root) / (2 * qa), blob.cx + (-qb + root) / (2 * qa)


def _lungs(
    body: _Body, heart: Blob, domes: tuple[float, float], rng: np.random.Generator
) -> tuple[tuple[Region, Region], float]:
    """Aerated lungs as polygons: apex near C7-T1, lateral wall along the ribs, a dome
    with its costophrenic angle, and a medial border along the mediastinum and the heart.
    Also returns the ground-glass texture strength (preterm lungs are hazier)."""
    pitch, wmax = body.pitch, body.wmax
    apex = body.level_y("T1", 0.0) - rng.uniform(0.2, 0.7) * pitch
    mediastinum = body.vertebrae["T4"].a + rng.uniform(1.5, 3.5) * wmax / 50
    centre = body.shift(DEPTH_HEART)  # a turned baby's mediastinum moves against the chest wall
    thymus = rng.uniform(0.0, 0.18) * wmax
    # Preterm lungs are denser (RDS, less air): less of the soft tissue is replaced by air.
    preterm = float(np.clip((34 - body.ga_weeks) / 10, 0, 1))
    air = rng.uniform(0.45, 0.65) - 0.2 * preterm * rng.uniform(0.5, 1.0)
    density = -MU_SOFT * air * 0.65 * 2 * wmax
    lungs = []
    for side, dome in ((-1, domes[0]), (1, domes[1])):
        cp_angle = dome + rng.uniform(1.0, 1.6) * pitch
        medial_end = dome + rng.uniform(0.3, 0.7) * pitch

        def medial(y: float, side: int = side) -> float:
            bump = thymus * max(0.0, 1 - abs(y - body.level_y("T3")) / (2.0 * pitch))
            span = _ellipse_x_span(heart, y)
            heart_edge = 0.0 if span is None else max(0.0, side * span[1 if side > 0 else 0])
            # where a big heart reaches the wall, keep a sliver of lung so the outline stays simple
            return min(max(side * centre + mediastinum + bump, heart_edge + 0.6), body.inner(y) - 0.12 * wmax)

        tip = medial(apex) + 0.40 * (body.inner(apex + 2 * pitch) - medial(apex))

        def rounded(y: float, edge: float, tip: float = tip) -> float:
            """Blend from the apex tip to the edge along a quarter ellipse 2.5 pitches tall:
            a dome, not a point."""
            t = min(1.0, max(0.0, (y - apex) / (2.5 * pitch)))
            return tip + (edge - tip) * math.sqrt(1 - (1 - t) ** 2)

        outline = [(side * rounded(y, body.inner(y)), y) for y in np.linspace(apex, cp_angle, 18)]
        x_cp, x_me = body.inner(cp_angle), medial(medial_end)
        peak = rng.uniform(0.4, 0.6)
        for u in np.linspace(0, 1, 14)[1:]:
            if u < peak:
                y = dome + (cp_angle - dome) * ((peak - u) / peak) ** 2
            else:
                y = dome + (medial_end - dome) * ((u - peak) / (1 - peak)) ** 2
            outline.append((side * (x_cp + (x_me - x_cp) * u), y))
        for y in np.linspace(medial_end, apex, 18)[1:-1]:
            outline.append((side * rounded(y, medial(y)), y))
        lungs.append(Region(points=tuple((float(x), float(y)) for x, y in outline), density=density, edge_mm=0.5))
    return (lungs[0], lungs[1]), float(np.clip(0.25 + 0.6 * preterm + rng.normal(0, 0.1), 0, 1))


def _airway(body: _Body, rng: np.random.Generator) -> list[Blob]:
    """Tracheal air column from C4 to the carina at T3-T4, and the two main bronchi."""
    radius = rng.uniform(1.3, 2.0) * body.spine_length / 90
    density = -MU_SOFT * 2 * radius * 0.9
    top = body.level_y("C4", 0.0)
    carina = body.level_y("T3", 1.0) + rng.uniform(-0.5, 1.0) * body.pitch
    cx = body.vertebrae["T2"].cx - rng.uniform(0.3, 2.0)
    parts = [Blob(cx=cx, cy=(top + carina) / 2, a=radius, b=(carina - top) / 2, angle=0.0, n=6.0, density=density)]
    for angle in (rng.uniform(0.35, 0.55), -rng.uniform(0.65, 0.9)):
        half_len = rng.uniform(0.5, 0.7) * body.pitch
        parts.append(
            Blob(
                cx=cx - math.sin(angle) * half_len, cy=carina + math.cos(angle) * half_len,
                a=0.8 * radius, b=half_len, angle=angle, n=4.0, density=0.8 * density,
            )
        )
    return parts


def _gastric_bubble(body: _Body, domes: tuple[float, float], rng: np.random.Generator) -> Blob:
    a = rng.uniform(0.10, 0.22) * body.wmax
    return Blob(
        cx=rng.uniform(0.3, 0.55) * body.wmax, cy=domes[1] + rng.uniform(0.8, 1.6) * body.pitch, a=a,
        b=a * rng.uniform(0.55, 0.9), angle=rng.uniform(-0.3, 0.3), n=2.0,
        density=-MU_SOFT * 2 * a * 0.8, profile="dome",
    )


def _pelvis(body: _Body) -> list[Blob]:
    """Sacrum and iliac wings, seen only on babygram-like fields that reach the pelvis."""
    l5, wmax, mu_bone = body.vertebrae["L5"], body.wmax, body.mu_bone
    sacrum = Blob(
        cx=l5.cx, cy=l5.cy + 3.2 * l5.b, a=0.75 * l5.a, b=1.6 * l5.b, angle=l5.angle, n=2.4,
        density=mu_bone * 1.6 * l5.a * 0.8, rim=0.5,
    )
    wings = [
        Blob(
            cx=l5.cx + side * (l5.a + 0.40 * wmax), cy=l5.cy + 3.0 * l5.b + 0.3 * wmax, a=0.26 * wmax,
            b=0.36 * wmax, angle=side * 0.35, n=2.2, density=mu_bone * 0.06 * wmax, rim=1.0,
        )
        for side in (-1, 1)
    ]
    return [sacrum, *wings]


def _ribs(body: _Body, twelfth: str, cervical_rib: bool, rng: np.random.Generator) -> list[Arc]:
    """12 pairs; rib n's head sits on the side of Tn. Neonatal ribs run nearly horizontally
    to the lateral wall, then the fainter anterior part descends medially and fades out at
    the (invisible) costochondral junction. Ribs 11-12 are short floating ribs; the 12th may
    be a stub or missing, and a cervical rib may sit on C7 (one side or both). A lordotic
    tilt projects the ribs flatter. In a turned baby the heads move with the spine while the
    lateral ends stay on the chest wall, so one side's ribs project longer than the other's."""
    drop_scale = rng.uniform(0.85, 1.15) * float(np.clip(1 - body.lordosis_deg / 25, 0.3, 1.4))
    half_width = 0.011 * body.spine_length * rng.uniform(0.9, 1.1)
    density = body.mu_bone * 2 * half_width * 1.8
    # (level, drop from head to lateral in pitches, share of the way to the lateral wall,
    #  end angle of a floating rib or None for a long rib that turns anteriorly)
    ribs: list[tuple[str, float, float, float | None]] = [
        (f"T{n}", drop, 1.0, None) for n, drop in enumerate((1.2, 1.6, 2.0, 2.2, 2.2, 2.2, 2.2, 2.2, 2.2, 2.0), 1)
    ]
    ribs.append(("T11", 1.8, 0.85, 0.25))
    if twelfth != "absent":
        ribs.append(("T12", 1.5, 0.6, 0.9 if twelfth == "normal" else 1.15))
    sides = {level: (-1, 1) for level, *_ in ribs}
    if cervical_rib:
        ribs.insert(0, ("C7", 1.0, 0.5, 1.1))
        sides["C7"] = (-1, 1) if rng.random() < 0.5 else (int(rng.choice([-1, 1])),)
    arcs = []
    for level, drop, reach, floating_end in ribs:
        centrum = body.vertebrae[level]
        ry = body.pitch * drop_scale * drop
        head_angle = rng.uniform(1.62, 1.80)
        for side in sides[level]:
            hx = centrum.cx + side * 1.05 * centrum.a
            hy = centrum.cy + rng.uniform(-0.15, 0.15) * centrum.b
            cy = hy + ry * math.sin(head_angle)
            lateral = body.inner(cy) * reach + half_width
            rx = max(lateral - side * hx, 2.0) / (1 - math.cos(head_angle))
            cx = hx - side * rx * math.cos(head_angle)
            if floating_end is None:
                end = -rng.uniform(0.45, 0.75)
                knots = (end, end + 0.3, -0.15, 0.2, head_angle - 0.04, head_angle)
                weights = (0.0, 0.25, 0.35, 1.0, 1.0, 0.0)
            else:
                end = floating_end + rng.uniform(-0.1, 0.1)
                knots = (end, end + 0.3, head_angle - 0.04, head_angle)
                weights = (0.0, 0.9, 1.0, 0.0)
            arcs.append(Arc(cx, cy, rx, ry, side, knots, weights, half_width, density))
    return arcs


def _circle_arc(
    p0: tuple[float, float], p1: tuple[float, float], p2: tuple[float, float], half_width: float, density: float
) -> Arc:
    """Arc of the circle through three points, from p0 to p2 (clavicles, humeri). The arc's
    `side` faces p1, so its angles stay clear of the +-pi cut the renderer's arctan2 has."""
    (ax, ay), (bx, by), (cx, cy) = p0, p1, p2
    d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    ux = ((ax**2 + ay**2) * (by - cy) + (bx**2 + by**2) * (cy - ay) + (cx**2 + cy**2) * (ay - by)) / d
    uy = ((ax**2 + ay**2) * (cx - bx) + (bx**2 + by**2) * (ax - cx) + (cx**2 + cy**2) * (bx - ax)) / d
    radius = math.hypot(ax - ux, ay - uy)
    side = 1 if bx >= ux else -1
    t0, t2 = (math.atan2(-(y - uy), side * (x - ux)) for x, y in (p0, p2))
    lo, hi = min(t0, t2), max(t0, t2)
    cap = 1.5 * half_width / radius
    return Arc(ux, uy, radius, radius, side, (lo, lo + cap, hi - cap, hi), (0.0, 1.0, 1.0, 0.0), half_width, density)


def _clavicles(body: _Body, trunk: Trunk, arms_up: tuple[bool, bool], rng: np.random.Generator) -> list[Arc]:
    """Clavicles with medial ends at C6-T1 (mostly C7): a trap for 'first bone = T1'.
    A lordotic tilt projects them higher and more upswept (about a level per 10 degrees), and
    so does a raised arm on its side. The medial ends sit on the sternum, in front, so a
    turned baby shows them off-centre to the spine behind. The lateral end stays inside the
    shoulder's soft tissue."""
    level = str(rng.choice(["C6", "C7", "T1"], p=[0.3, 0.45, 0.25]))
    lift = max(0.0, body.lordosis_deg) / 10
    half_width = 0.022 * body.spine_length * rng.uniform(0.9, 1.1)
    density = body.mu_bone * 2 * half_width * 1.8
    centrum = body.vertebrae[level]
    arcs = []
    for side, up in zip((-1, 1), arms_up):
        medial = (body.shift(DEPTH_STERNUM) + side * (centrum.a + rng.uniform(2.0, 6.0) * body.spine_length / 90),
                  body.level_y(level) + (rng.uniform(-0.4, 0.4) - lift) * body.pitch)
        lateral_y = medial[1] - (rng.uniform(-0.2, 0.8) + lift + 0.8 * up) * body.pitch
        shoulder = float(np.interp(lateral_y, trunk.y_knots, trunk.half_width))
        lateral = (side * min(rng.uniform(0.85, 1.0) * body.wmax, 0.85 * shoulder), lateral_y)
        sag = rng.uniform(0.5, 2.0)
        middle = ((medial[0] + lateral[0]) / 2, (medial[1] + lateral[1]) / 2 + sag)
        arcs.append(_circle_arc(medial, middle, lateral, half_width, density))
    return arcs


def _scapula(body: _Body, trunk: Trunk, side: int, up: bool, rng: np.random.Generator) -> Region:
    """A thin triangular blade on the back of the upper chest (glenoid, superior angle at
    T1-T2, inferior angle near T6-T7), over the upper lateral lung and posterior ribs.
    Raising the arm rotates it upward about the root of its spine, high on the medial border:
    the inferior angle swings out of the lung and the glenoid rises. Its first vertex is the
    glenoid, where the humerus hangs, set a humeral head and a little deltoid inside the
    shoulder's outline."""
    w, p = body.wmax, body.pitch
    local = np.array([[0.0, 0.0], [-0.42 * w, -0.7 * p], [-0.32 * w, 4.3 * p]]) * rng.uniform(0.9, 1.1)
    local[:, 0] *= side
    pivot = local[1] + 0.25 * (local[2] - local[1])
    upward = rng.uniform(0.35, 0.6) if up else rng.uniform(-0.05, 0.15)
    y = body.level_y("T2") + rng.uniform(-0.5, 0.5) * p
    lateral = float(np.interp(y, trunk.y_knots, trunk.half_width)) - (2 * HUMERAL_HEAD + 0.03) * body.spine_length
    glenoid = (side * lateral + body.shift(DEPTH_SCAPULA), y)
    points = rotate(local - pivot, -side * upward) + pivot + glenoid
    # the blade is about 1 mm thick, seen obliquely; rim-thickened borders are left out
    density = body.mu_bone * 0.035 * body.spine_length
    return Region(points=tuple((float(x), float(y)) for x, y in points), density=density, edge_mm=0.4)


def _arm(
    body: _Body, trunk: Trunk, glenoid: tuple[float, float], side: int, up: bool, rng: np.random.Generator
) -> tuple[Arc, list[Blob]]:
    """Upper arm from the shoulder: the humeral shaft (an Arc, like the other long bones) in
    a soft-tissue cylinder reaching past the elbow. Raised, it lies beside the head; down, the
    elbow rests just outside the chest wall, so the arm overlaps the wall but not the lung.
    The humeral head is cartilage, so the shaft starts a head's width from the glenoid; the
    head's ossification centre shows only near term (notes 2d). Returns the humerus and the
    rest: the soft tissue, plus that centre when drawn."""
    length = 0.68 * body.spine_length * rng.uniform(0.93, 1.07)
    radius = 0.16 * body.spine_length * rng.uniform(0.85, 1.15)
    head_r = HUMERAL_HEAD * body.spine_length
    head = np.array(glenoid) + (side * head_r, 0.0)
    if up:
        tilt = rng.uniform(0.1, 0.6)
        along = np.array([side * math.sin(tilt), -math.cos(tilt)])
    else:
        elbow_y = head[1] + length
        elbow_x = side * (float(np.interp(elbow_y, trunk.y_knots, trunk.half_width)) + rng.uniform(0.2, 0.7) * radius)
        along = np.array([elbow_x - head[0], length])
        along /= np.hypot(*along)
    outward = np.array([along[1], -along[0]]) * side * math.copysign(1.0, along[1])  # away from the midline
    start, end = head + head_r * along, head + (head_r + length) * along
    bow = rng.uniform(0.01, 0.03) * length
    half_width = 0.028 * body.spine_length * rng.uniform(0.9, 1.1)
    humerus = _circle_arc(
        tuple(start), tuple((start + end) / 2 + bow * outward), tuple(end), half_width,
        body.mu_bone * 2 * half_width * 1.8,
    )
    reach = 0.55 * 1.25 * length
    centre = start + reach * along
    rest = [Blob(cx=float(centre[0]), cy=float(centre[1]), a=radius, b=reach, angle=math.atan2(-along[0], along[1]),
                 n=2.0, density=MU_SOFT * 2 * radius, profile="dome")]
    if rng.random() < float(np.clip((body.ga_weeks - 37) / 4, 0, 1)):
        r = 0.45 * head_r
        rest.append(Blob(cx=float(head[0]), cy=float(head[1]), a=r, b=r, angle=0.0, n=2.0,
                         density=body.mu_bone * 1.8 * r, rim=0.5))
    return humerus, rest


def _liver(body: _Body, domes: tuple[float, float], rng: np.random.Generator) -> Blob:
    """The liver under the right dome: a big right lobe in the right upper quadrant and the
    large neonatal left lobe across the midline, so T10-L1 lie behind it; its lower edge
    rises to the left. Liver is denser than the fat-and-muscle mix the trunk stands for
    (about 8 % over its width), which lowers bone contrast there."""
    a = rng.uniform(0.62, 0.75) * body.wmax
    b = rng.uniform(0.38, 0.48) * body.wmax
    return Blob(
        cx=-rng.uniform(0.22, 0.34) * body.wmax, cy=domes[0] + b * rng.uniform(0.9, 1.05), a=a, b=b,
        angle=-rng.uniform(0.1, 0.3), n=2.0, density=MU_SOFT * 0.08 * 2 * a, profile="dome",
    )
