"""Annotation deliveries in LabelMe, COCO or CVAT form, read into one document per image.

deid calls `open_annotations` once per hospital (the format comes from config
`cohort.annotation_format`) and writes each converted image's document under its case id;
rasterize reads only those documents. A document keeps LabelMe's field names and nothing but
geometry: {"imageWidth", "imageHeight", "shapes": [{"label", "shape_type", "points"}]}, where
shape_type is "polygon" ([[x, y], ...]), "rectangle" (two opposite corners) or the source's own
name for anything else (rasterize reports those as not_a_polygon). No image path, embedded image,
annotator name or attribute leaves this module.

The three formats share the pixel-corner convention of neovert.rasterize (x right, y down, (0, 0)
the top-left corner of the top-left pixel): LabelMe and CVAT canvases span [0, W] x [0, H], and
COCO polygons are in the same continuous coordinates (tests/unit/test_rasterize_agreement.py shows
pycocotools agreeing with us only without a half-pixel shift). Images are matched to annotations
by file stem, the way LabelMe files are named after their image.
"""

from __future__ import annotations

import json
import logging
import math
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

FORMATS = ("labelme", "coco", "cvat")
log = logging.getLogger(__name__)


class AnnotationError(Exception):
    """No usable annotation for one image. The message is a short reason or an exception type name,
    never a path or file content (those may hold identifiers)."""


def open_annotations(folder: Path, annotation_format: str) -> LabelMeFolder | Indexed:
    """The annotations of one delivery: `folder` holds one LabelMe JSON per image (named like the
    image), or COCO JSON file(s), or CVAT for images 1.1 XML file(s), merged when several."""
    folder = Path(folder)
    if annotation_format == "labelme":
        return LabelMeFolder(folder)
    if annotation_format not in FORMATS:
        raise ValueError(f"annotation format must be one of {FORMATS}, not {annotation_format!r}")
    read, pattern = (_coco, "*.json") if annotation_format == "coco" else (_cvat, "*.xml")
    documents: dict[str, dict | None] = {}
    for path in sorted(folder.glob(pattern)):
        try:
            entries = read(path)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ElementTree.ParseError) as error:
            # one unreadable export makes every image's annotation unknown: each image is quarantined
            return Indexed({}, f"unreadable {annotation_format} file ({type(error).__name__})")
        for stem, document in entries:
            documents[stem] = None if stem in documents else document  # None: annotated twice
    return Indexed(documents, "" if documents else f"no {annotation_format} annotations found")


@dataclass(frozen=True)
class LabelMeFolder:
    """One LabelMe JSON per image, read when deid asks for it (in its worker processes)."""

    folder: Path

    def document(self, stem: str) -> dict:
        path = self.folder / f"{stem}.json"
        if not path.is_file():
            raise AnnotationError("no annotation file")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return {"imageHeight": raw.get("imageHeight"), "imageWidth": raw.get("imageWidth"),
                    "shapes": [{"label": s["label"], "shape_type": s.get("shape_type") or "polygon",
                                "points": s["points"]} for s in raw["shapes"]]}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise AnnotationError(type(error).__name__) from None


@dataclass(frozen=True)
class Indexed:
    """COCO or CVAT: the delivery's file(s) parsed once, documents by image stem (None when two
    entries claim the same stem); `problem` is why nothing could be read, given to every image."""

    documents: dict[str, dict | None]
    problem: str = ""

    def document(self, stem: str) -> dict:
        if self.problem:
            raise AnnotationError(self.problem)
        if stem not in self.documents:
            raise AnnotationError("no annotation for this image")
        if self.documents[stem] is None:
            raise AnnotationError("two annotation entries for this image")
        return self.documents[stem]


def _coco(path: Path) -> list[tuple[str, dict]]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    names = {category["id"]: str(category["name"]) for category in raw.get("categories", [])}
    by_id = {image["id"]: (Path(str(image["file_name"])).stem, _document(image.get("width"), image.get("height")))
             for image in raw["images"]}
    orphans = 0
    for item in raw.get("annotations", []):
        if item.get("image_id") not in by_id:
            orphans += 1
            continue
        by_id[item["image_id"]][1]["shapes"].extend(_coco_shapes(names.get(item.get("category_id"), ""), item))
    if orphans:
        log.warning("%d COCO annotations name an image id the file does not list; ignored", orphans)
    return list(by_id.values())


def _coco_shapes(label: str, item: dict) -> list[dict]:
    """COCO keeps one object's polygons as flat [x1, y1, x2, y2, ...] lists; a box-only object
    becomes a rectangle; run-length masks (iscrowd) are not polygons."""
    segmentation, box = item.get("segmentation"), item.get("bbox")
    if isinstance(segmentation, dict):
        return [_shape(label, "rle", [])]
    if segmentation:
        polygons = segmentation if isinstance(segmentation[0], list) else [segmentation]
        return [_shape(label, "polygon", [flat[k:k + 2] for k in range(0, len(flat), 2)]) for flat in polygons]
    if box:
        x, y, width, height = box
        return [_shape(label, "rectangle", [[x, y], [x + width, y + height]])]
    return [_shape(label, "empty", [])]


def _cvat(path: Path) -> list[tuple[str, dict]]:
    """CVAT for images 1.1: <image name width height> holding <polygon points="x,y;x,y;..."> and
    <box xtl ytl xbr ybr rotation> elements (rotation in degrees, clockwise on screen)."""
    entries = []
    for image in ElementTree.parse(path).getroot().iter("image"):
        shapes = []
        for element in image:
            label = element.get("label", "")
            if element.tag == "polygon":
                pairs = element.get("points", "").split(";")
                points = [[_number(v) for v in pair.split(",")] for pair in pairs if pair]
                shapes.append(_shape(label, "polygon", points))
            elif element.tag == "box":
                shapes.append(_cvat_box(label, element))
            else:  # polyline, points, ellipse, mask, tag ...
                shapes.append(_shape(label, element.tag, []))
        entries.append((Path(image.get("name", "")).stem, _document(image.get("width"), image.get("height"), shapes)))
    return entries


def _cvat_box(label: str, element: ElementTree.Element) -> dict:
    x0, y0, x1, y1 = (_number(element.get(key)) for key in ("xtl", "ytl", "xbr", "ybr"))
    angle = math.radians(_number(element.get("rotation", "0")))
    if angle == 0:
        return _shape(label, "rectangle", [[x0, y0], [x1, y1]])
    cx, cy, cos, sin = (x0 + x1) / 2, (y0 + y1) / 2, math.cos(angle), math.sin(angle)
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    return _shape(label, "polygon", [[cx + (x - cx) * cos - (y - cy) * sin, cy + (x - cx) * sin + (y - cy) * cos]
                                     for x, y in corners])


def _number(text: str | None) -> float:
    """A coordinate; NaN for anything unparsable, so that rasterize reports bad_points for the shape."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _document(width, height, shapes: list | None = None) -> dict:
    size = [int(v) if v is not None and str(v).strip().isdigit() else None for v in (width, height)]
    return {"imageWidth": size[0], "imageHeight": size[1], "shapes": shapes if shapes is not None else []}


def _shape(label: str, shape_type: str, points: list) -> dict:
    return {"label": label, "shape_type": shape_type, "points": points}
