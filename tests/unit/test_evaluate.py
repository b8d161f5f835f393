"""neovert.evaluate on a tiny folder pair: per-image rows, missing predictions, tables, reruns."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from neovert.evaluate import (
    NO_HARD_FILM_NOTE, hash_folder, postprocess_effect, score_folder, summarise, write_tables,
)
from neovert.metrics import CLASSES, confidence_interval

SPACING_RC = (0.14, 0.15)
PROVENANCE = {"code_version": "0.1.0+test", "config_hash": "c0ffee", "predictions_hash": "abc123"}
CASES = pd.DataFrame(
    {
        "case_id": ["H01_p1_1", "H01_p1_2", "H02_p2_1"],
        "patient_id": ["H01_p1", "H01_p1", "H02_p2"],
        "hospital": ["H01", "H01", "H02"],
        "ga_group": ["<28", "<28", ">=33"],
        "bw_group": ["<1000", "<1000", ">=1500"],
    }
)


def write_map(path: Path, labels: np.ndarray, spacing_rc: tuple[float, float] = SPACING_RC) -> None:
    image = sitk.GetImageFromArray(labels.astype(np.uint8))
    image.SetSpacing((spacing_rc[1], spacing_rc[0]))  # SimpleITK wants (x, y) = (col, row)
    sitk.WriteImage(image, str(path), useCompression=True)


def truth_map() -> np.ndarray:
    labels = np.zeros((48, 40), np.uint8)
    labels[4:40, 2:14] = CLASSES["lung"]
    labels[4:10, 20:28] = CLASSES["T1"]
    labels[18:24, 20:28] = CLASSES["T7"]
    labels[32:38, 20:28] = CLASSES["T12"]
    return labels


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """H01_p1_1 perfect; H01_p1_2 T7 two rows low and T12 missed; H02_p2_1 has no prediction."""
    pred_dir, truth_dir = tmp_path / "pred", tmp_path / "truth"
    pred_dir.mkdir()
    truth_dir.mkdir()
    for case_id in CASES["case_id"]:
        write_map(truth_dir / f"{case_id}.nii.gz", truth_map())
    write_map(pred_dir / "H01_p1_1.nii.gz", truth_map())
    shifted = truth_map()
    shifted[shifted == CLASSES["T12"]] = 0
    shifted[shifted == CLASSES["T7"]] = 0
    shifted[20:26, 20:28] = CLASSES["T7"]
    write_map(pred_dir / "H01_p1_2.nii.gz", shifted)
    return pred_dir, truth_dir


def test_score_folder_rows_and_missing_prediction(folders):
    per_image = score_folder(*folders, cases=CASES)
    assert len(per_image) == 3 * 4
    assert list(per_image["case_id"]) == [c for c in CASES["case_id"] for _ in range(4)]
    assert list(per_image["class"]) == list(CLASSES) * 3
    status = per_image.set_index(["case_id", "class"])["status"]
    assert (status["H01_p1_1"] == "ok").all()
    assert status[("H01_p1_2", "T12")] == "missed"
    assert (status["H02_p2_1"] == "missed").all()
    row = per_image.set_index(["case_id", "class"]).loc[("H01_p1_2", "T7")]
    assert row["hd95_mm"] == pytest.approx(2 * SPACING_RC[0])  # a row shift is measured in row spacing
    assert row["dsc"] == pytest.approx(2 * 32 / 96)
    assert per_image.loc[per_image["case_id"] == "H02_p2_1", "hospital"].unique().tolist() == ["H02"]


def test_score_folder_without_case_table(folders):
    per_image = score_folder(*folders)
    assert (per_image["patient_id"] == per_image["case_id"]).all()
    assert sorted(per_image["hospital"].unique()) == ["H01", "H02"]
    assert (per_image["ga_group"] == "unknown").all()


def test_case_table_selects_the_cases(folders, caplog):
    pred_dir, truth_dir = folders
    write_map(truth_dir / "H01_p9_1.nii.gz", truth_map())  # e.g. a training case: not scored
    per_image = score_folder(pred_dir, truth_dir, cases=CASES.iloc[1:])
    assert sorted(per_image["case_id"].unique()) == ["H01_p1_2", "H02_p2_1"]
    assert "1 prediction(s) of cases outside the case table" in caplog.text
    with pytest.raises(ValueError, match="H05_p5_1"):
        score_folder(pred_dir, truth_dir, cases=pd.concat([CASES, CASES.iloc[:1].assign(case_id="H05_p5_1")]))


def test_no_cases_gives_empty_tables(folders, tmp_path):
    per_image = score_folder(*folders, cases=CASES.iloc[:0])
    assert per_image.empty and list(per_image.columns) == list(score_folder(*folders).columns)
    written = write_tables(per_image, tmp_path / "tables", PROVENANCE)
    assert read_tsv(tmp_path / "tables" / "table3.tsv").empty
    assert len(written) == 16
    assert read_tsv(tmp_path / "tables" / "by_hard_film.tsv").empty


def test_score_folder_refuses_mismatches(folders):
    pred_dir, truth_dir = folders
    write_map(pred_dir / "H02_p2_1.nii.gz", truth_map()[:40])
    with pytest.raises(ValueError, match="H02_p2_1.*shape"):
        score_folder(pred_dir, truth_dir)
    write_map(pred_dir / "H02_p2_1.nii.gz", truth_map(), spacing_rc=(0.15, 0.14))
    with pytest.raises(ValueError, match="H02_p2_1.*spacing"):
        score_folder(pred_dir, truth_dir)
    write_map(pred_dir / "H09_zz_1.nii.gz", truth_map())
    with pytest.raises(ValueError, match="without ground truth"):
        score_folder(pred_dir, truth_dir)


def read_tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", comment="#")


def test_write_tables(folders, tmp_path):
    per_image = score_folder(*folders, cases=CASES)
    out = tmp_path / "tables"
    written = write_tables(per_image, out, PROVENANCE)
    names = {p.name for p in written}
    for stem in ("table3", "table3_patient", "table4", "by_hospital", "by_ga_group", "by_bw_group", "by_hard_film"):
        assert {f"{stem}.tsv", f"{stem}.md"} <= names
    assert {"per_image.tsv", "per_patient.tsv"} <= names
    assert all(p.parent == out and p.exists() for p in written)

    for path in written:
        text = path.read_text(encoding="utf-8")
        marker = "# " if path.suffix == ".tsv" else "- "
        for key, value in PROVENANCE.items():
            assert f"{marker}{key}: {value}\n" in text, (path.name, key)

    back = read_tsv(out / "per_image.tsv")
    assert list(back.columns) == list(per_image.columns)
    assert len(back) == 12
    assert back["hd95_mm"].tolist().count(math.inf) == 5

    table3 = read_tsv(out / "table3.tsv").set_index("class")
    assert list(table3.index) == ["T1", "T7", "T12", "lung"]
    t12 = table3.loc["T12"]
    assert (t12["n_images"], t12["n_valid"], t12["n_missed"]) == (3, 1, 2)
    assert t12["dsc_mean"] == pytest.approx(1 / 3, abs=1e-6)  # the misses count as 0
    assert t12["hd95_mm_mean"] == 0 and math.isnan(t12["hd95_mm_ci_low"])

    patients = read_tsv(out / "table3_patient.tsv").set_index("class")
    assert patients.loc["T12", "n_patients"] == 2
    per_patient = read_tsv(out / "per_patient.tsv").set_index(["patient_id", "class"])
    assert per_patient.loc[("H01_p1", "T12"), "dsc"] == pytest.approx(0.5)
    assert per_patient.loc[("H01_p1", "T12"), "hd95_mm"] == math.inf
    assert per_patient.loc[("H01_p1", "T12"), "n_images"] == 2

    by_hospital = read_tsv(out / "by_hospital.tsv")
    assert len(by_hospital) == 2 * 4
    assert set(zip(by_hospital["hospital"], by_hospital["class"])) == {
        (h, c) for h in ("H01", "H02") for c in CLASSES
    }
    assert by_hospital.set_index(["hospital", "class"]).loc[("H01", "T1"), "n_patients"] == 1

    table4 = read_tsv(out / "table4.tsv")
    assert list(table4["hospital"].unique()) == ["all", "H01", "H02"]
    t7_all = table4.set_index(["hospital", "class"]).loc[("all", "T7")]
    assert (t7_all["dsc_ge_0.50"], t7_all["dsc_ge_0.70"]) == pytest.approx((2 / 3, 1 / 3))

    assert "| T1 |" in (out / "table3.md").read_text(encoding="utf-8")


def test_hard_films_flagged_against_the_rest(folders, tmp_path):
    """H01_p1_1 perfect, H01_p1_2 T7 at DSC 2/3 with T12 missed, H02_p2_1 all missed; the 11-rib
    flag is unknown for H02_p2_1 (its sheet lacks it), no film is lordotic, babygram is absent."""
    cases = CASES.assign(hard_rotation=[1, 0, 0], hard_lordotic=[0, 0, 0], hard_11_ribs=[0, 1, math.nan])
    out = tmp_path / "tables"
    assert out / "by_hard_film.md" in write_tables(score_folder(*folders, cases=cases), out, PROVENANCE)
    table = read_tsv(out / "by_hard_film.tsv").set_index(["flag", "films", "class"])
    assert sorted(set(table.index.droplevel("class"))) == [
        ("hard_11_ribs", "flagged"), ("hard_11_ribs", "rest"), ("hard_rotation", "flagged"), ("hard_rotation", "rest")]
    counts = table[["n_images", "n_patients", "n_missed"]]
    assert counts.loc[("hard_rotation", "flagged", "T12")].tolist() == [1, 1, 0]
    assert counts.loc[("hard_rotation", "rest", "T12")].tolist() == [2, 2, 2]
    assert counts.loc[("hard_11_ribs", "flagged", "T12")].tolist() == [1, 1, 1]
    assert counts.loc[("hard_11_ribs", "rest", "T12")].tolist() == [1, 1, 0]  # H02_p2_1 in neither
    dsc = table["dsc_mean"]
    assert dsc[("hard_rotation", "flagged", "T7")] == 1
    assert dsc[("hard_rotation", "rest", "T7")] == pytest.approx((2 / 3 + 0) / 2, abs=1e-6)
    assert dsc[("hard_11_ribs", "flagged", "T7")] == pytest.approx(2 / 3, abs=1e-6)
    assert dsc[("hard_11_ribs", "rest", "T7")] == 1
    assert "flagged = images with the flag 1" in (out / "by_hard_film.md").read_text(encoding="utf-8")
    per_image = read_tsv(out / "per_image.tsv").drop_duplicates("case_id").set_index("case_id")
    assert per_image["hard_11_ribs"].tolist()[:2] == [0, 1] and math.isnan(per_image.loc["H02_p2_1", "hard_11_ribs"])
    assert per_image["hard_babygram"].isna().all()


def test_no_hard_film_flags_gives_an_empty_table_that_says_so(folders, tmp_path):
    out = tmp_path / "tables"
    write_tables(score_folder(*folders, cases=CASES), out, PROVENANCE)  # a real cohort: no flags at all
    assert read_tsv(out / "by_hard_film.tsv").empty
    assert f"# note: {NO_HARD_FILM_NOTE}\n" in (out / "by_hard_film.tsv").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="hard_rotation not 0/1"):
        score_folder(*folders, cases=CASES.assign(hard_rotation=[0, 2, 1]))


def test_penalised_tables_count_a_miss_as_the_image_diagonal(folders, tmp_path):
    per_image = score_folder(*folders, cases=CASES)
    diagonal = math.hypot(48 * SPACING_RC[0], 40 * SPACING_RC[1])
    assert per_image["diagonal_mm"].to_numpy() == pytest.approx(diagonal)
    out = tmp_path / "tables"
    names = {p.name for p in write_tables(per_image, out, PROVENANCE, penalised=True)}
    assert {"table3_penalised.tsv", "table3_patient_penalised.md", "by_hospital_penalised.tsv"} <= names
    plain = read_tsv(out / "table3.tsv").set_index("class").loc["T12"]
    worst = read_tsv(out / "table3_penalised.tsv").set_index("class").loc["T12"]
    assert plain["hd95_mm_mean"] == 0  # the two misses are counted, not averaged
    assert (worst["n_valid"], worst["n_missed"]) == (3, 2)  # penalised: all enter the mean, still counted
    assert worst["hd95_mm_mean"] == pytest.approx(2 * diagonal / 3, abs=1e-6)
    assert "PENALISED" in (out / "table3_penalised.tsv").read_text()
    assert not any("penalised" in n for n in {p.name for p in write_tables(per_image, tmp_path / "b", PROVENANCE)})


def test_postprocess_effect_per_hospital(folders, tmp_path):
    pred_dir, truth_dir = folders
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    for path in pred_dir.iterdir():
        labels = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
        labels[44:47, 30:33] = CLASSES["T1"]  # an island far from T1, as post-processing removes
        write_map(raw_dir / path.name, labels)
    raw, processed = score_folder(raw_dir, truth_dir, CASES), score_folder(pred_dir, truth_dir, CASES)
    effect = postprocess_effect(raw, processed).set_index(["hospital", "class"])
    t1 = effect.loc[("H01", "T1")]
    assert (t1["n_images"], t1["n_changed"]) == (2, 2)
    assert t1["dsc_mean_before"] < t1["dsc_mean_after"] == 1.0
    assert t1["hd95_mm_mean_before"] > t1["hd95_mm_mean_after"] == 0.0
    assert effect.loc[("all", "T1"), "n_images"] == 3 and effect.loc[("H01", "lung"), "n_changed"] == 0
    written = write_tables(processed, tmp_path / "tables", PROVENANCE, raw=raw)
    assert tmp_path / "tables" / "postprocess_effect.md" in written
    with pytest.raises(ValueError, match="different cases"):
        postprocess_effect(raw[raw.case_id != "H01_p1_1"], processed)


def test_parallel_scoring_gives_the_same_table(folders):
    pd.testing.assert_frame_equal(score_folder(*folders, cases=CASES, workers=2), score_folder(*folders, cases=CASES))


def test_rerun_is_byte_identical(folders, tmp_path):
    first = write_tables(score_folder(*folders, cases=CASES), tmp_path / "a", PROVENANCE)
    second = write_tables(score_folder(*folders, cases=CASES.iloc[::-1]), tmp_path / "b", PROVENANCE)
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_tables_use_the_paper_ci():
    rng = np.random.default_rng(3)
    values = rng.uniform(0.3, 1.0, 50)
    per_image = pd.DataFrame(
        {"class": "T1", "dsc": values, "iou": values, "hd95_mm": values * 10, "msd_mm": values,
         "missed": False, "spurious": False, "both_empty": False}
    )
    row = summarise(per_image, [], "images").iloc[0]
    low, high = confidence_interval(values.mean(), values.std(ddof=1), 50)
    assert (row["dsc_ci_low"], row["dsc_ci_high"]) == pytest.approx((low, high), rel=1e-12)
    assert row["dsc_mean"] - row["dsc_ci_low"] == pytest.approx(1.96 * values.std(ddof=1) / math.sqrt(50))


def test_hash_folder(folders):
    pred_dir, _ = folders
    before = hash_folder(pred_dir)
    assert before == hash_folder(pred_dir)
    (pred_dir / ".H01_p1_1.tmp9.nii.gz").write_bytes(b"leftover")
    assert hash_folder(pred_dir) == before
    write_map(pred_dir / "H01_p1_1.nii.gz", np.zeros((48, 40), np.uint8))
    assert hash_folder(pred_dir) != before
