"""rasterize: the pixel rule's edge cases, every reason code from a real input, and the hospital
tables. Agreement with other libraries is in test_rasterize_agreement.py, readers in
test_rasterize_formats.py."""

import copy

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import ConvexHull, Delaunay

from neovert import LABELS
from neovert.io import read_image, read_tsv, write_json, write_tsv
from neovert.rasterize import REASONS, polygon_mask, rasterize_document, rasterize_hospital
from neovert.rasterize.polygons import self_intersects, untangle_quad

SHAPE = (60, 40)  # rows, cols
SPACING = (0.5, 0.5)  # 0.25 mm2 per pixel: an 8 x 5 px vertebra is 10 mm2


def box(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def shape(label, points, shape_type="polygon"):
    return {"label": label, "shape_type": shape_type, "points": points}


CLEAN = {
    "imageWidth": 40, "imageHeight": 60,
    "shapes": [shape("lung", box(1, 5, 12, 55)), shape("lung", box(28, 5, 39, 55)),
               shape("T1", box(16, 5, 24, 10)), shape("T7", box(16, 25, 24, 30)), shape("T12", box(16, 45, 24, 50))],
}


def edited(add=(), **replace):
    """CLEAN with the shapes of some labels replaced (None removes them) and others added."""
    document = copy.deepcopy(CLEAN)
    shapes = [replace.get(s["label"], s) for s in document["shapes"]]
    document["shapes"] = [s for s in shapes if s is not None] + list(add)
    return document


def half_size(document):
    """The same annotation made on a copy of the image resized to half its width and height."""
    half = copy.deepcopy(document)
    half["imageWidth"], half["imageHeight"] = document["imageWidth"] // 2, document["imageHeight"] // 2
    for item in half["shapes"]:
        item["points"] = [[x / 2, y / 2] for x, y in item["points"]]
    return half


def test_pixel_centre_rule_on_pixel_corners_and_half_pixels():
    # the square (2,2)-(6,6): exactly its 16 pixels (skimage, cv2 and PIL give 25)
    assert polygon_mask(np.array(box(2, 2, 6, 6), float), (8, 8)).sum() == 16
    # a box through pixel centres keeps the top/left centres on its edges, not the bottom/right ones
    mask = polygon_mask(np.array(box(1.5, 1.5, 4.5, 3.5), float), (6, 6))
    assert np.array_equal(np.argwhere(mask), [[r, c] for r in (1, 2) for c in (1, 2, 3)])


def test_a_tiling_covers_every_pixel_exactly_once():
    """Delaunay triangles of integer points share edges through many pixel centres; each such
    pixel must go to exactly one triangle, and together they make the convex hull."""
    rng = np.random.default_rng(102)
    for _ in range(30):
        points = rng.integers(0, 40, (12, 2)).astype(float)
        triangles = [polygon_mask(points[t], (40, 40)).astype(int) for t in Delaunay(points).simplices]
        assert np.array_equal(sum(triangles), polygon_mask(points[ConvexHull(points).vertices], (40, 40)))


def test_a_bowtie_is_reordered_into_its_convex_quadrilateral():
    z_order = np.array([[16, 25], [24, 25], [16, 30], [24, 30]], float)
    assert np.array_equal(untangle_quad(z_order), [[16, 25], [24, 25], [24, 30], [16, 30]])
    # a vertex 0.3 px off the chord of its neighbours: a half-pixel click error away from a
    # different simple order, so no order is trusted
    assert untangle_quad(np.array([[16, 25], [24, 25], [20, 24.7], [24, 30]], float)) is None


def test_both_bowtie_orders_of_random_quadrilaterals_repair_to_the_drawn_one():
    rng = np.random.default_rng(102)
    for _ in range(200):
        # four corners at least 0.77 rad apart around the centre: > 1 px from their neighbours' chord
        angles = rng.uniform(0, 2 * np.pi) + np.arange(4) * np.pi / 2 + rng.uniform(-0.4, 0.4, 4)
        quad = rng.uniform(10, 30, 2) + rng.uniform(5, 10) * np.column_stack([np.cos(angles), np.sin(angles)])
        for bowtie in (quad[[0, 1, 3, 2]], quad[[0, 2, 1, 3]]):
            assert self_intersects(bowtie) and not self_intersects(untangle_quad(bowtie))
            assert np.array_equal(untangle_quad(bowtie), quad)


def test_a_clean_annotation_gives_its_label_map_and_no_findings():
    result = rasterize_document(CLEAN, SHAPE, SPACING)
    assert result.issues == [] and result.status == "ok"
    assert [int((result.labels == v).sum()) for v in LABELS.values()] == [2400 - 1100 - 120, 1100, 40, 40, 40]


def test_vertebra_wins_where_it_overlaps_lung_and_the_overlap_is_recorded():
    result = rasterize_document(edited(add=[shape("lung", box(14, 20, 26, 35))]), SHAPE, SPACING)
    assert (result.labels[25:30, 16:24] == LABELS["T7"]).all()
    assert result.counts["lung_vertebra_overlap_px"] == 40 and result.status == "ok"
    assert [i.reason for i in result.issues] == ["lung_vertebra_overlap"]


def test_points_outside_are_clipped_and_counted():
    result = rasterize_document(edited(add=[shape("lung", box(-5, 56, 45, 70))]), SHAPE, SPACING)
    assert (result.labels[56:, :] == LABELS["lung"]).all() and result.counts["points_outside"] == 4
    assert result.issues[0].detail == "4 of 4" and result.status == "ok"


def test_annotations_made_on_a_resized_image_are_scaled_back():
    result = rasterize_document(half_size(CLEAN), SHAPE, SPACING)
    assert np.array_equal(result.labels, rasterize_document(CLEAN, SHAPE, SPACING).labels)
    assert result.issues[0].detail == "20x30 -> 40x60" and result.status == "flagged"


# One real input per document-level reason code: (document, spacing, status, label map written?)
SCENARIOS = {
    "size_unstated": (edited() | {"imageWidth": None}, SPACING, "flagged"),
    "rescaled": (half_size(CLEAN), SPACING, "flagged"),
    "size_mismatch": (edited() | {"imageWidth": 60, "imageHeight": 40}, SPACING, "excluded"),
    "unknown_label": (edited(add=[shape("Spine", box(16, 12, 24, 20))]), SPACING, "flagged"),
    "not_a_polygon": (edited(add=[shape("lung", [[1, 1], [9, 9]], "line")]), SPACING, "flagged"),
    "bad_points": (edited(add=[shape("lung", [[1, 1], [9, "x"], [1, 9]])]), SPACING, "flagged"),
    "too_few_points": (edited(add=[shape("lung", [[1, 1], [9, 9], [9, 9]])]), SPACING, "flagged"),
    "bowtie_repaired": (edited(T7=shape("T7", [[16, 25], [24, 25], [16, 30], [24, 30]])), SPACING, "flagged"),
    "bowtie_ambiguous": (edited(T7=shape("T7", [[16, 25], [24, 25], [20, 24.7], [24, 30]])), SPACING, "excluded"),
    "self_intersecting": (edited(add=[shape("lung", [[2, 56], [10, 59], [10, 56], [2, 59], [1, 57]])]), SPACING, "ok"),
    "points_outside_image": (edited(add=[shape("lung", box(-5, 56, 45, 70))]), SPACING, "ok"),
    "no_pixels": (edited(add=[shape("lung", box(50, 5, 60, 10))]), SPACING, "flagged"),
    "duplicate_label": (edited(add=[shape("T7", box(16, 32, 24, 37))]), SPACING, "excluded"),
    "missing_vertebra": (edited(T12=None), SPACING, "excluded"),
    "missing_lung": (edited(lung=None), SPACING, "flagged"),
    "lung_vertebra_overlap": (edited(add=[shape("lung", box(14, 20, 26, 35))]), SPACING, "ok"),
    "vertebra_order": (edited(T1=shape("T1", box(16, 45, 24, 50)), T12=shape("T12", box(16, 5, 24, 10))),
                       SPACING, "flagged"),
    "implausible_size": (edited(), (0.1, 0.1), "flagged"),
}
HOSPITAL_REASONS = {"annotation_missing", "unreadable_annotation", "image_missing", "image_quarantined"}


@pytest.mark.parametrize("reason", SCENARIOS)
def test_each_bad_input_gets_its_reason_code_and_status(reason):
    document, spacing, expected_status = SCENARIOS[reason]
    result = rasterize_document(document, SHAPE, spacing)
    assert reason in {i.reason for i in result.issues}, result.issues
    assert result.status == expected_status
    assert (result.labels is None) == (expected_status == "excluded")


def test_a_dropped_vertebra_polygon_also_reports_the_vertebra_missing():
    result = rasterize_document(SCENARIOS["bowtie_ambiguous"][0], SHAPE, SPACING)
    assert [(i.reason, i.label) for i in result.issues] == [("bowtie_ambiguous", "T7"), ("missing_vertebra", "T7")]


def test_every_reason_code_is_exercised_by_a_test():
    assert set(SCENARIOS) | HOSPITAL_REASONS == set(REASONS)


@pytest.fixture
def hospital(tmp_path):
    """Upstream outputs of one hospital: deid annotations, strip manifest and strip quarantine."""
    deid, strip = tmp_path / "deid", tmp_path / "strip"
    documents = {"H01_a_01": CLEAN, "H01_b_01": SCENARIOS["missing_vertebra"][0], "H01_c_01": SCENARIOS["rescaled"][0],
                 "H01_q_01": CLEAN, "H01_z_01": CLEAN}
    for case_id, document in documents.items():
        write_json(deid / "annotations" / f"{case_id}.json", document)
    (deid / "annotations" / "H01_d_01.json").write_text("{not json")
    write_json(deid / "annotations" / "H01_e_01.json", {"shapes": [{"label": ["T1"], "points": []}]})
    in_manifest = ["H01_a_01", "H01_b_01", "H01_c_01", "H01_d_01", "H01_e_01", "H01_n_01"]  # n: no annotation
    write_tsv(pd.DataFrame({"case_id": in_manifest, "rows": 60, "cols": 40, "spacing_row_mm": 0.5,
                            "spacing_col_mm": 0.5}), strip / "manifest.tsv")
    write_tsv(pd.DataFrame({"case_id": ["H01_q_01"], "reason": ["no_usable_spacing"], "detail": [""]}),
              strip / "quarantine.tsv")
    return deid / "annotations", strip, tmp_path / "rasterize"


def test_hospital_tables_account_for_every_annotation_and_every_image(hospital):
    annotations, strip, out = hospital
    (out / "labels").mkdir(parents=True)
    (out / "labels" / "H01_b_01.nii.gz").write_bytes(b"stale")  # from a run before the case was excluded
    counts = rasterize_hospital(annotations, strip / "manifest.tsv", strip / "quarantine.tsv", out)

    qc = read_tsv(out / "qc.tsv").set_index("case_id")
    assert qc.status.to_dict() == {"H01_a_01": "ok", "H01_b_01": "excluded", "H01_c_01": "flagged",
                                   "H01_d_01": "excluded", "H01_e_01": "excluded", "H01_n_01": "excluded",
                                   "H01_q_01": "excluded", "H01_z_01": "excluded"}
    assert qc.reasons.fillna("").to_dict() == {
        "H01_a_01": "", "H01_b_01": "missing_vertebra", "H01_c_01": "rescaled", "H01_d_01": "unreadable_annotation",
        "H01_e_01": "unreadable_annotation", "H01_n_01": "annotation_missing", "H01_q_01": "image_quarantined",
        "H01_z_01": "image_missing"}
    issues = read_tsv(out / "issues.tsv")
    assert set(issues.reason) == {"missing_vertebra", "rescaled", "unreadable_annotation", "annotation_missing",
                                  "image_quarantined", "image_missing"}
    assert issues.set_index("case_id").loc["H01_q_01", "detail"] == "strip: no_usable_spacing"
    assert sorted(p.name for p in (out / "labels").iterdir()) == ["H01_a_01.nii.gz", "H01_c_01.nii.gz"]
    labels, spacing = read_image(out / "labels" / "H01_a_01.nii.gz")
    assert labels.shape == SHAPE and spacing == SPACING and labels.dtype == np.uint8
    assert np.array_equal(labels, rasterize_document(CLEAN, SHAPE, SPACING).labels)
    assert qc.loc["H01_a_01", "T1_px"] == 40 and pd.isna(qc.loc["H01_n_01", "T1_px"])
    assert counts["excluded"] == 6 and counts["labels_written"] == 2 and counts["reasons"]["unreadable_annotation"] == 2


def test_tables_carry_the_code_and_stage_version(hospital):
    annotations, strip, out = hospital
    rasterize_hospital(annotations, strip / "manifest.tsv", strip / "quarantine.tsv", out)
    for table in ("qc.tsv", "issues.tsv"):
        assert {"# neovert: 0.1.0", "# rasterize stage: 2"} <= set((out / table).read_text().splitlines())
