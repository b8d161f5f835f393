"""One hospital: every annotation and every stripped image ends in exactly one row of qc.tsv.

Inputs are what the stages before wrote: deid's per-case annotation documents
(`annotations/<case_id>.json`, see formats.py; deid quarantines an image whose annotation is
missing or unreadable, so that image is accounted for in deid's quarantine.tsv), strip's
manifest (each image's grid and spacing) and strip's quarantine.tsv. Outputs, in `out_dir`:
`labels/<case_id>.nii.gz` for every case not excluded, `qc.tsv` (one row per case: status and
reason codes) and `issues.tsv` (one row per finding: reason code, severity, label, detail).
Downstream stages must leave out the cases whose status is `excluded`: they have no label map.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd

from neovert import LABELS, __version__
from neovert.io import read_tsv, write_image, write_tsv
from neovert.parallel import pool_map
from neovert.rasterize.labelmap import rasterize_document
from neovert.rasterize.qc import REASONS, Issue, status

STAGE_VERSION = "2"
log = logging.getLogger(__name__)

COUNT_COLUMNS = ["points_outside", "lung_vertebra_overlap_px", *(f"{name}_px" for name, v in LABELS.items() if v)]
QC_COLUMNS = ["case_id", "status", "reasons", *COUNT_COLUMNS]
ISSUE_COLUMNS = ["case_id", "reason", "severity", "label", "detail"]


def rasterize_hospital(annotations_dir: Path, manifest: Path, quarantine: Path, out_dir: Path,
                       workers: int = 1) -> dict:
    """Rasterize every case of one hospital onto its image grid and write the QC tables."""
    annotations_dir, out_dir = Path(annotations_dir), Path(out_dir)
    cases = read_tsv(manifest)
    quarantined = read_tsv(quarantine).set_index("case_id")["reason"].to_dict()
    annotated = {path.name.removesuffix(".json"): path for path in annotations_dir.glob("*.json")}
    shutil.rmtree(out_dir / "labels", ignore_errors=True)  # no label map of a case excluded now
    (out_dir / "labels").mkdir(parents=True)
    tasks = [(case.case_id, annotated.get(case.case_id), (int(case.rows), int(case.cols)),
              (float(case.spacing_row_mm), float(case.spacing_col_mm)), out_dir / "labels" / f"{case.case_id}.nii.gz")
             for case in cases.itertuples(index=False)]
    results = list(pool_map(_rasterize_case, tasks, workers))
    results += [(case_id, [_missing_image(case_id, quarantined)], {})
                for case_id in sorted(set(annotated) - set(cases.case_id))]
    return _write_tables(sorted(results, key=lambda r: r[0]), out_dir)


def _rasterize_case(task: tuple) -> tuple[str, list[Issue], dict]:
    case_id, path, shape, spacing, target = task
    if path is None:
        return case_id, [Issue("annotation_missing")], {}
    try:
        document = read_document(path)
    except (OSError, ValueError) as error:
        return case_id, [Issue("unreadable_annotation", "", type(error).__name__)], {}
    result = rasterize_document(document, shape, spacing)
    if result.labels is not None:
        write_image(target, result.labels, spacing)
    return case_id, result.issues, result.counts


def read_document(path: Path) -> dict:
    """An annotation document as deid wrote it, checked for the structure rasterize relies on."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError("not an annotation document")
    shapes, sizes = document.get("shapes"), (document.get("imageWidth"), document.get("imageHeight"))
    if (not isinstance(shapes, list)
            or not all(isinstance(s, dict) and isinstance(s.get("label"), str) and "points" in s for s in shapes)
            or not all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in sizes)):
        raise ValueError("not an annotation document")
    return document


def _missing_image(case_id: str, quarantined: dict[str, str]) -> Issue:
    if case_id in quarantined:
        return Issue("image_quarantined", "", f"strip: {quarantined[case_id]}")
    return Issue("image_missing")


def _write_tables(results: list[tuple[str, list[Issue], dict]], out_dir: Path) -> dict:
    header = {"neovert": __version__, "rasterize stage": STAGE_VERSION,
              "reason codes": "neovert.rasterize.qc.REASONS"}
    qc = pd.DataFrame([{"case_id": case_id, "status": status(issues),
                        "reasons": ",".join(sorted({i.reason for i in issues})), **counts}
                       for case_id, issues, counts in results], columns=QC_COLUMNS)
    issues = pd.DataFrame([{"case_id": case_id, "reason": i.reason, "severity": REASONS[i.reason][0],
                            "label": i.label, "detail": i.detail}
                           for case_id, found, _ in results for i in found], columns=ISSUE_COLUMNS)
    write_tsv(qc.astype({c: "Int64" for c in COUNT_COLUMNS}), out_dir / "qc.tsv", header=header)
    write_tsv(issues, out_dir / "issues.tsv", header=header)
    by_status = Counter(qc.status)
    for row in qc[qc.status == "excluded"].itertuples(index=False):
        log.warning("%s excluded: %s", row.case_id, row.reasons)
    counts = {"cases": len(qc), **{s: by_status.get(s, 0) for s in ("ok", "flagged", "excluded")},
              "labels_written": int((qc.status != "excluded").sum()),
              "reasons": dict(sorted(Counter(issues.reason).items()))}
    log.info("%d cases: %d ok, %d flagged, %d excluded (no label map); findings in issues.tsv",
             counts["cases"], counts["ok"], counts["flagged"], counts["excluded"])
    return counts
