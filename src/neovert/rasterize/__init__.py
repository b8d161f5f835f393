"""The `rasterize` stage: annotators' polygons -> 5-class label maps (0 bg, 1 lung, 2 T1, 3 T7, 4 T12).

Convention (written once, used everywhere): vertices are in full-resolution pixel coordinates,
x = column and y = row, with (0, 0) the top-left corner of the top-left pixel; a pixel (r, c)
belongs to a polygon when its centre (c + 0.5, r + 0.5) is inside (even-odd rule; a centre exactly
on an edge goes to the polygon right of or below it, so polygons sharing an edge never both claim
a pixel). Lungs are drawn first and vertebrae on top: where they overlap the vertebra wins.

- `polygons`: the pixel rule, vertex clean-up, bow-tie repair;
- `formats`: LabelMe / COCO / CVAT deliveries -> one document per image (used by deid);
- `labelmap`: one document -> one label map and its findings;
- `qc`: reason codes and severities, anatomical checks;
- `hospital`: one hospital's cases -> labels/, qc.tsv, issues.tsv.
"""

from neovert.rasterize.hospital import STAGE_VERSION, rasterize_hospital, read_document
from neovert.rasterize.labelmap import LabelMap, rasterize_document
from neovert.rasterize.polygons import polygon_mask
from neovert.rasterize.qc import REASONS, Issue

__all__ = ["REASONS", "STAGE_VERSION", "Issue", "LabelMap", "polygon_mask", "rasterize_document",
           "rasterize_hospital", "read_document"]
