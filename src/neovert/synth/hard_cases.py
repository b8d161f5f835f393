"""Hard slices of the cohort: films where counting is harder, flagged so results can be
reported on them separately (notes 4.6, last item).

Each flag is read off the same anatomy and framing the pixels are drawn from, never drawn on
its own, so a flag cannot disagree with the image: a rotation beyond 10 degrees (in the image
plane, or of the baby about its long axis), a lordotic projection, an absent 12th rib (11
pairs, so "last rib = T12" fails), and a babygram field that reaches the pelvis.
"""

from __future__ import annotations

import math

import numpy as np

from neovert.synth.anatomy import LORDOTIC_DEG, Scene
from neovert.synth.primitives import Frame

ROTATION_DEG = 10.0
PELVIS_MM = 5.0  # field edge at least this far below L5's inferior endplate: the pelvis is in view


def flags(scene: Scene, frame: Frame) -> dict[str, int]:
    """0/1 per hard-slice column (neovert.FLAG_COLUMNS, in that order) for one image."""
    l5 = scene.vertebrae["L5"]
    below_l5 = frame.to_pixels(np.array([[l5.cx, l5.cy + l5.b + PELVIS_MM]]))[0]
    return {
        "hard_rotation": int(max(abs(math.degrees(frame.angle)), abs(scene.axial_rotation_deg)) > ROTATION_DEG),
        "hard_lordotic": int(scene.lordosis_deg >= LORDOTIC_DEG),
        "hard_11_ribs": int(scene.rib_pairs == 11),
        "hard_babygram": int(0 <= below_l5[0] <= frame.cols and 0 <= below_l5[1] <= frame.rows),
    }
