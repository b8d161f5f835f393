"""Drawing primitives in body millimetres, and the body-to-pixel frame.

Anatomy is described only by these parametric shapes; the renderer turns them into an
attenuation map and the label writer turns the same numbers into polygons, so labels cannot
drift from pixels. Body frame: x toward the patient's left (image right in an AP view), y
toward the feet, origin at the centre of the superior endplate of T1.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np


@dataclasses.dataclass(frozen=True)
class Blob:
    """Superellipse |u/a|^n + |v/b|^n <= 1, rotated by `angle` (rad) about its centre.

    `profile` "plate" is a flat slab with a brighter rim of relative weight `rim` (a vertebral
    centrum with its cortex); "dome" is the chord length of an ellipsoid (heart, gas bubble).
    `density` is the attenuation line integral (mu * t) at the centre; negative for gas.
    """

    cx: float
    cy: float
    a: float
    b: float
    angle: float
    n: float
    density: float
    profile: Literal["plate", "dome"] = "plate"
    rim: float = 0.0

    def corners(self) -> np.ndarray:
        """The 4 corners of the bounding rectangle in order TL, TR, BR, BL (body frame)."""
        local = np.array([[-self.a, -self.b], [self.a, -self.b], [self.a, self.b], [-self.a, self.b]])
        return rotate(local, self.angle) + (self.cx, self.cy)


@dataclasses.dataclass(frozen=True)
class Arc:
    """A tube of radius `half_width` along part of an ellipse (ribs, clavicles).

    The centreline is (cx + side*rx*cos t, cy - ry*sin t); `side` = +1 opens toward the
    patient's left. The tube's weight along t is piecewise linear through (`knots`, `weights`)
    and zero outside, which fades the anterior rib and rounds the ends.
    """

    cx: float
    cy: float
    rx: float
    ry: float
    side: int
    knots: tuple[float, ...]
    weights: tuple[float, ...]
    half_width: float
    density: float

    def centreline(self, count: int = 48) -> np.ndarray:
        t = np.linspace(self.knots[0], self.knots[-1], count)
        return np.stack([self.cx + self.side * self.rx * np.cos(t), self.cy - self.ry * np.sin(t)], axis=1)


@dataclasses.dataclass(frozen=True)
class Region:
    """A filled polygon (body frame) with a soft edge and a depth that peaks inside (lungs)."""

    points: tuple[tuple[float, float], ...]
    density: float
    edge_mm: float


@dataclasses.dataclass(frozen=True)
class Tube:
    """A catheter or tube: a hollow cylinder of outer radius `radius` and wall `wall` (mm)
    along a polyline, so its walls project as two parallel lines; `wall` >= `radius` makes it
    solid. `mu` is the wall material's attenuation per mm; `device` names it (ETT, OG, ...)."""

    points: tuple[tuple[float, float], ...]
    radius: float
    wall: float
    mu: float
    device: str


@dataclasses.dataclass(frozen=True)
class Trunk:
    """Soft-tissue body: an elliptic cylinder whose half-width and depth vary along y."""

    y_knots: tuple[float, ...]
    half_width: tuple[float, ...]
    depth: tuple[float, ...]
    mu: float  # per mm


Primitive = Blob | Arc | Region | Tube


def rotate(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


@dataclasses.dataclass(frozen=True)
class Frame:
    """Body mm -> image mm (rotate by `angle`, then shift by `shift`) -> pixels.

    Pixel coordinates use the corner convention: (0, 0) is the top-left corner of the
    top-left pixel, so pixel (r, c) has its centre at (c + 0.5, r + 0.5).
    """

    angle: float
    shift: tuple[float, float]
    spacing: float
    rows: int
    cols: int

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) body mm -> (N, 2) pixel (x = column, y = row)."""
        return (rotate(np.asarray(points, dtype=float), self.angle) + self.shift) / self.spacing

    def bbox(self, points: np.ndarray, margin_mm: float) -> tuple[int, int, int, int] | None:
        """Pixel box (r0, r1, c0, c1) covering `points` plus a margin, clipped; None if empty."""
        px = self.to_pixels(points)
        m = margin_mm / self.spacing
        c0, r0 = np.floor(px.min(axis=0) - m).astype(int)
        c1, r1 = np.ceil(px.max(axis=0) + m).astype(int)
        r0, c0 = max(int(r0), 0), max(int(c0), 0)
        r1, c1 = min(int(r1), self.rows), min(int(c1), self.cols)
        return (r0, r1, c0, c1) if r1 > r0 and c1 > c0 else None

    def body_grid(self, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Body-frame coordinates of the pixel centres in `box` (inverse transform)."""
        r0, r1, c0, c1 = box
        xi = (np.arange(c0, c1) + 0.5) * self.spacing - self.shift[0]
        yi = (np.arange(r0, r1) + 0.5) * self.spacing - self.shift[1]
        c, s = math.cos(self.angle), math.sin(self.angle)
        # rotate() applies [[c, s], [-s, c]] to row vectors; its inverse is the transpose.
        xb = c * xi[None, :] + s * yi[:, None]
        yb = -s * xi[None, :] + c * yi[:, None]
        return xb, yb
