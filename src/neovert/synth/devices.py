"""Tubes and catheters (ETT, OG/NG tube, UVC, UAC), placed by vertebral level.

Device tips are what the paper's users read against T1, T7 and T12, which makes them the most
tempting shortcut for a model: an ETT tip always on T1 would be a second label. So tips land at
the target levels only as often as in NICU practice, with the malpositions of notes 2e (ETT
high at C6-C7 or low at T3-T4, UVC tips at T11-T12 or too high, UAC low or off target, OG tubes
short in the oesophagus or past the pylorus), and each device runs along its own path
(trachea; oesophagus into the stomach; umbilical vein up the right through the liver; umbilical
artery down into the pelvis and back up the aorta left of the spine). An image the plan marks
as having a tube gets at least one device and the others none, so Table 1's tube share holds in
the pixels. Device mix by GA group follows notes 8 (more lines in extreme preterms).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.interpolate import CubicSpline

from neovert.synth.anatomy import Scene
from neovert.synth.primitives import Tube

DEVICES = ("ETT", "OG", "UVC", "UAC")
# probability per GA group (<28, 28-32, >=33 wk) among images that have a tube
_RATES = {"ETT": (0.70, 0.40, 0.15), "OG": (0.80, 0.65, 0.40), "UVC": (0.60, 0.45, 0.15), "UAC": (0.40, 0.20, 0.05)}
# tip level groups with their shares: on target first, then the malpositions
_TIPS = {
    "ETT": ((0.70, ("T1", "T2")), (0.12, ("C6", "C7")), (0.18, ("T3", "T4"))),
    "UVC": ((0.60, ("T8", "T9", "T10")), (0.25, ("T11", "T12")), (0.15, ("T6", "T7"))),
    "UAC": ((0.75, ("T6", "T7", "T8", "T9")), (0.15, ("L3", "L4")), (0.10, ("T4", "T5", "T10", "T11"))),
}
_OG_ENDS = (("stomach", 0.86), ("oesophagus", 0.07), ("duodenum", 0.07))
_STEP_MM = 1.0  # centreline sampling


def with_devices(scene: Scene, ga_group: int, tube: bool, rng: np.random.Generator) -> Scene:
    """`scene` plus the devices of one image (none when the plan says no tube)."""
    if not tube:
        return scene
    rates = np.array([_RATES[name][ga_group] for name in DEVICES])
    chosen = [name for name, rate in zip(DEVICES, rates) if rng.random() < rate]
    if not chosen:
        chosen = [DEVICES[int(rng.choice(len(DEVICES), p=rates / rates.sum()))]]
    body = _Landmarks(scene)
    tubes = [part for name in chosen for part in _BUILDERS[name](body, rng)]
    return dataclasses.replace(scene, primitives=scene.primitives + tuple(tubes))


class _Landmarks:
    """What the device paths are drawn from: levels, spine line, body width and organ points."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        v = scene.vertebrae
        self.pitch = (v["T12"].cy - v["T1"].cy) / 11
        self.unit = self.pitch / 8  # 1 at a term-sized infant: device calibres scale with the body
        self.top = v["C2"].cy - 40.0  # above every field: tubes enter from the top edge

    def y(self, level: str) -> float:
        return self.scene.vertebrae[level].cy

    def x(self, y: float) -> float:
        return self.scene.spine_x(y)

    def half_width(self, y: float) -> float:
        trunk = self.scene.trunk
        return float(np.interp(y, trunk.y_knots, trunk.half_width))

    def tip(self, device: str, rng: np.random.Generator) -> float:
        shares, groups = zip(*_TIPS[device])
        levels = groups[int(rng.choice(len(groups), p=np.array(shares) / sum(shares)))]
        return self.y(levels[int(rng.integers(len(levels)))]) + rng.uniform(-0.5, 0.5) * self.pitch


def _ett(body: _Landmarks, rng: np.random.Generator) -> list[Tube]:
    """PVC tube down the trachea with its radiopaque stripe; head turns move the tip."""
    lx, _ = body.scene.landmarks["larynx"]
    tip = body.tip("ETT", rng)
    points = [(lx + rng.uniform(-8, 8), body.top), (lx + rng.uniform(-3, 3), body.y("C3")), (lx, tip)]
    line = _smooth(points)
    radius = rng.uniform(1.6, 2.2) * body.unit
    stripe = tuple((x + 0.55 * radius, y) for x, y in line)
    return [Tube(line, radius, 0.35 * body.unit, 0.10, "ETT"), Tube(stripe, 0.25 * body.unit, 1.0, 0.9, "ETT")]


def _og(body: _Landmarks, rng: np.random.Generator) -> list[Tube]:
    """Radiopaque feeding tube: oesophagus left of the midline, hiatus, a loop in the stomach;
    sometimes short (tip in the oesophagus) or through the pylorus into the duodenum."""
    sx, sy = body.scene.landmarks["stomach"]
    hiatus = body.scene.landmarks["left_dome"][1] - 0.3 * body.pitch
    offset = rng.uniform(1.5, 4.0) * body.unit
    points = [(body.x(body.top) + offset + rng.uniform(-4, 4), body.top)]
    points += [(body.x(y) + offset, y) for y in (body.y("C6"), body.y("T4"), hiatus)]
    names, shares = zip(*_OG_ENDS)
    end = names[int(rng.choice(len(names), p=shares))]
    if end == "oesophagus":
        stop = body.y(str(rng.choice(["T5", "T6", "T7"])))
        points = [p for p in points if p[1] < stop] + [(body.x(stop) + offset, stop)]
    else:
        curl = rng.uniform(4.0, 7.0) * body.unit
        points += [(sx, sy), (sx + 0.6 * curl, sy + 0.6 * curl), (sx - 0.2 * curl, sy + curl)]
        if end == "duodenum":
            points.append((body.x(sy) - 0.25 * body.half_width(sy), sy + 1.5 * curl))
        else:
            points.append((sx - 0.5 * curl, sy + 0.3 * curl))
    return [Tube(_smooth(points), rng.uniform(0.8, 1.1) * body.unit, 0.35 * body.unit, 0.35, "OG")]


def _umbilicus(body: _Landmarks, rng: np.random.Generator) -> tuple[float, float]:
    y = body.y("L3") + rng.uniform(0, 8)
    return body.x(y) + rng.uniform(-2, 2), y


def _uvc(body: _Landmarks, rng: np.random.Generator) -> list[Tube]:
    """Umbilical vein catheter: up and to the patient's right through the liver (ductus
    venosus) to the IVC / right atrium; tip right of the spine."""
    tip = body.tip("UVC", rng)
    points = [_umbilicus(body, rng)]
    for level, share in (("L1", 0.12), ("T12", 0.18), ("T11", 0.12)):
        y = body.y(level)
        if y > tip + 0.5 * body.pitch:
            points.append((body.x(y) - share * body.half_width(y), y))
    points.append((body.x(tip) - rng.uniform(0.06, 0.15) * body.half_width(tip), tip))
    return [Tube(_smooth(points), rng.uniform(0.6, 0.8) * body.unit, 0.25 * body.unit, 0.45, "UVC")]


def _uac(body: _Landmarks, rng: np.random.Generator) -> list[Tube]:
    """Umbilical artery catheter: down into the pelvis (iliac artery), a hairpin, then up the
    aorta just left of the spine to a high or low tip."""
    tip = body.tip("UAC", rng)
    ux, uy = _umbilicus(body, rng)
    pelvis, w = body.y("L5"), body.half_width(body.y("L5"))
    points = [(ux, uy), (ux + 0.10 * w, pelvis + 6 * body.unit), (ux + 0.18 * w, pelvis + 14 * body.unit),
              (ux + 0.24 * w, pelvis + 6 * body.unit)]
    aorta = rng.uniform(0.8, 1.2) * body.scene.vertebrae["L1"].a
    for level in ("L4", "L2", "T12", "T10", "T8", "T6", "T4"):
        y = body.y(level)
        if y > tip + 0.5 * body.pitch:
            points.append((body.x(y) + aorta, y))
    points.append((body.x(tip) + aorta, tip))
    return [Tube(_smooth(points), rng.uniform(0.5, 0.7) * body.unit, 0.22 * body.unit, 0.45, "UAC")]


_BUILDERS = {"ETT": _ett, "OG": _og, "UVC": _uvc, "UAC": _uac}


def _smooth(points: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """Natural cubic spline through the control points, sampled every ~1 mm of chord."""
    pts = np.asarray(points, dtype=float)
    chord = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
    spline = CubicSpline(chord, pts, bc_type="natural")
    samples = spline(np.linspace(0.0, chord[-1], max(2, int(chord[-1] / _STEP_MM) + 1)))
    return tuple((float(x), float(y)) for x, y in samples)
