"""The LabelMe, COCO and CVAT readers: one annotation, three deliveries, one label map; and deid
reading the configured format."""

import json
import math
import pickle

import numpy as np
import pandas as pd
import pytest

from neovert.deid import deid_hospital
from neovert.rasterize import rasterize_document, read_document
from neovert.rasterize.formats import AnnotationError, open_annotations

from ..conftest import korean_cr
from .test_rasterize import CLEAN, SHAPE, SPACING


def labelme_delivery(folder, stem="IMG_0001"):
    document = {"version": "5.4.1", "flags": {}, "imagePath": "../dicom/Hong^Gildong.dcm",
                "imageData": "iVBORw0KGgo=",
                "imageHeight": CLEAN["imageHeight"], "imageWidth": CLEAN["imageWidth"],
                "shapes": [{**s, "group_id": None, "description": "drawn by Dr Kim", "flags": {}}
                           for s in CLEAN["shapes"]]}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.json").write_text(json.dumps(document))


def coco_delivery(folder):
    """CLEAN as COCO: the two lungs as one object with two polygons, the last one closed (its first
    vertex repeated), T12 as a box-only object; plus an annotation of an image the file doesn't list."""
    categories = {"lung": 1, "T1": 2, "T7": 3, "T12": 4}
    flat = {s["label"]: [] for s in CLEAN["shapes"]}
    for s in CLEAN["shapes"]:
        flat[s["label"]].append([v for point in s["points"] for v in point])
    flat["lung"][1] += flat["lung"][1][:2]
    annotations = [{"id": 1, "image_id": 7, "category_id": 1, "segmentation": flat["lung"], "iscrowd": 0},
                   {"id": 2, "image_id": 7, "category_id": 2, "segmentation": flat["T1"], "iscrowd": 0},
                   {"id": 3, "image_id": 7, "category_id": 3, "segmentation": flat["T7"], "iscrowd": 0},
                   {"id": 4, "image_id": 7, "category_id": 4, "segmentation": [], "bbox": [16, 45, 8, 5]},
                   {"id": 5, "image_id": 99, "category_id": 2, "segmentation": flat["T1"]}]
    coco = {"images": [{"id": 7, "file_name": "png/IMG_0001.png", "width": 40, "height": 60},
                       {"id": 8, "file_name": "IMG_0002.png", "width": 40, "height": 60}],
            "annotations": annotations, "categories": [{"id": i, "name": n} for n, i in categories.items()]}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "instances_default.json").write_text(json.dumps(coco))


def cvat_delivery(folder):
    """CLEAN as CVAT for images 1.1, T12 as a box."""
    polygons = "".join(
        f'<polygon label="{s["label"]}" occluded="0" source="manual" z_order="0" '
        f'points="{";".join(f"{x:.2f},{y:.2f}" for x, y in s["points"])}"></polygon>'
        for s in CLEAN["shapes"] if s["label"] != "T12")
    xml = ('<?xml version="1.0" encoding="utf-8"?><annotations><version>1.1</version>'
           '<image id="0" name="IMG_0001.jpg" width="40" height="60">' + polygons +
           '<box label="T12" occluded="0" xtl="16" ytl="45" xbr="24" ybr="50" z_order="0"></box></image>'
           '<image id="1" name="IMG_0002.jpg" width="40" height="60">'
           '<box label="T1" xtl="10" ytl="10" xbr="20" ybr="14" rotation="90"></box>'
           '<polyline label="lung" points="1,1;5,5"></polyline>'
           '<polygon label="T7" points="1,1;5,x;1,5"></polygon></image></annotations>')
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "task.xml").write_text(xml)


DELIVERIES = {"labelme": labelme_delivery, "coco": coco_delivery, "cvat": cvat_delivery}


@pytest.mark.parametrize("annotation_format", DELIVERIES)
def test_every_format_gives_the_same_label_map(tmp_path, annotation_format):
    DELIVERIES[annotation_format](tmp_path)
    annotations = pickle.loads(pickle.dumps(open_annotations(tmp_path, annotation_format)))  # as deid's workers get it
    result = rasterize_document(annotations.document("IMG_0001"), SHAPE, SPACING)
    assert result.issues == [] and np.array_equal(result.labels, rasterize_document(CLEAN, SHAPE, SPACING).labels)


def test_only_geometry_leaves_a_labelme_file(tmp_path):
    labelme_delivery(tmp_path)
    document = open_annotations(tmp_path, "labelme").document("IMG_0001")
    assert set(document) == {"imageHeight", "imageWidth", "shapes"}
    assert {key for s in document["shapes"] for key in s} == {"label", "shape_type", "points"}
    assert "Kim" not in json.dumps(document) and "Gildong" not in json.dumps(document)


@pytest.mark.parametrize("annotation_format", DELIVERIES)
def test_an_image_without_annotation_is_an_error_not_a_crash(tmp_path, annotation_format):
    DELIVERIES[annotation_format](tmp_path)
    with pytest.raises(AnnotationError):
        open_annotations(tmp_path, annotation_format).document("IMG_0404")


def test_coco_reader_reports_what_it_cannot_attach(tmp_path, caplog):
    coco_delivery(tmp_path)
    annotations = open_annotations(tmp_path, "coco")
    assert "1 COCO annotations name an image id" in caplog.text
    assert annotations.document("IMG_0002")["shapes"] == []  # listed, nothing drawn: missing_vertebra later
    (tmp_path / "second_export.json").write_text((tmp_path / "instances_default.json").read_text())
    with pytest.raises(AnnotationError, match="two annotation entries"):
        open_annotations(tmp_path, "coco").document("IMG_0001")


def test_coco_run_length_masks_are_not_polygons(tmp_path):
    (tmp_path / "rle.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 60}],
        "categories": [{"id": 1, "name": "lung"}],
        "annotations": [{"image_id": 1, "category_id": 1, "segmentation": {"counts": [0, 5], "size": [60, 40]}}]}))
    document = open_annotations(tmp_path, "coco").document("a")
    assert "not_a_polygon" in {i.reason for i in rasterize_document(document, SHAPE, SPACING).issues}


def test_cvat_rotated_box_other_shapes_and_bad_numbers(tmp_path):
    cvat_delivery(tmp_path)
    document = open_annotations(tmp_path, "cvat").document("IMG_0002")
    box, polyline, polygon = document["shapes"]
    # a 10 x 4 box turned 90 degrees about its centre (15, 12) stands 4 wide and 10 tall
    assert np.allclose(box["points"], [[17, 7], [17, 17], [13, 17], [13, 7]])
    assert polyline["shape_type"] == "polyline" and math.isnan(polygon["points"][1][1])
    found = {(i.reason, i.label) for i in rasterize_document(document, SHAPE, SPACING).issues}
    assert {("not_a_polygon", "lung"), ("bad_points", "T7")} <= found


@pytest.mark.parametrize("annotation_format, content", [("coco", "{broken"), ("cvat", "<annotations><image")])
def test_an_unreadable_export_leaves_every_image_unannotated(tmp_path, annotation_format, content):
    (tmp_path / f"export.{'json' if annotation_format == 'coco' else 'xml'}").write_text(content)
    with pytest.raises(AnnotationError, match=f"unreadable {annotation_format} file"):
        open_annotations(tmp_path, annotation_format).document("IMG_0001")


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="annotation format"):
        open_annotations("annotations", "geojson")


def test_deid_reads_the_configured_format_and_writes_geometry_per_case(tmp_path, key):
    """A COCO delivery through deid: the annotated image's document lands under its case id; the
    image the export does not cover is quarantined with a reason, never a crash."""
    delivery = tmp_path / "H05"
    (delivery / "dicom").mkdir(parents=True)
    first, second = korean_cr(), korean_cr()
    second.SOPInstanceUID += ".2"
    first.save_as(delivery / "dicom" / "Hong_Gildong_1.dcm")
    second.save_as(delivery / "dicom" / "Hong_Gildong_2.dcm")
    pd.DataFrame({"patient_key": ["2008-3"] * 2, "image_file": ["Hong_Gildong_1.dcm", "Hong_Gildong_2.dcm"],
                  "ga_weeks": ["27.5"] * 2, "bw_grams": ["980"] * 2, "sex": ["M"] * 2, "tube": ["1"] * 2,
                  }).to_csv(delivery / "clinical.csv", index=False)
    (delivery / "annotations").mkdir()
    (delivery / "annotations" / "export.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "Hong_Gildong_1.png", "width": 32, "height": 32}],
        "categories": [{"id": 1, "name": "T1"}],
        "annotations": [{"image_id": 1, "category_id": 1, "segmentation": [[2, 2, 9, 2, 9, 6, 2, 6]]}]}))

    counts = deid_hospital(delivery, "H05", key, tmp_path / "deid", tmp_path / "map.tsv", annotation_format="coco")
    assert counts == {"converted": 1, "quarantined": 1}
    (written,) = (tmp_path / "deid" / "annotations").iterdir()
    assert written.stem.startswith("H05_") and "Hong" not in written.read_text()
    assert read_document(written) == {"imageWidth": 32, "imageHeight": 32, "shapes": [
        {"label": "T1", "shape_type": "polygon", "points": [[2, 2], [9, 2], [9, 6], [2, 6]]}]}
    quarantine = pd.read_csv(tmp_path / "deid" / "quarantine.tsv", sep="\t")
    assert quarantine[["reason", "detail"]].values.tolist() == [
        ["unreadable_annotation", "no annotation for this image"]]
