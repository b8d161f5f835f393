import json
import logging
import re

import numpy as np
import pandas as pd
import pytest

from neovert import FLAG_COLUMNS
from neovert.cli import main
from neovert.split import SETS, assign_sets, balance_report, labelled, load_manifests, split_cohort
from neovert.synth.cohort import split_manifest

PAPER = {"train": 11860, "val": 1400, "test": 1400}


def manifest(n_patients: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        hospital = f"H{rng.integers(1, 12):02d}"
        ga, bw = f"GA0{rng.integers(1, 4)}", f"BW0{rng.integers(1, 4)}"
        for i in range(rng.integers(1, 5)):
            rows.append({"case_id": f"{hospital}_p{p:05d}_{i + 1:02d}", "patient_id": f"p{p:05d}",
                         "hospital": hospital, "ga_group": ga, "bw_group": bw, "tube": int(rng.random() < 0.7)})
    return pd.DataFrame(rows)


def test_patient_level_proportional_and_deterministic():
    cases = manifest(1500)
    sets = assign_sets(cases, PAPER, seed=102)
    assert cases.assign(set=sets).groupby("patient_id").set.nunique().max() == 1
    share = sets.value_counts(normalize=True)
    for name, weight in PAPER.items():
        assert share[name] == pytest.approx(weight / 14660, abs=0.01)
    for column in ("hospital", "ga_group", "bw_group"):  # every group in every set, shares close
        table = pd.crosstab(cases[column], sets, normalize="columns")
        assert (table.max(axis=1) - table.min(axis=1)).max() < 0.03
    shuffled = cases.sample(frac=1, random_state=2)  # row order of the manifest does not matter
    assert assign_sets(shuffled, PAPER, seed=102).sort_index().equals(sets)
    assert not sets.equals(assign_sets(cases, PAPER, seed=103))


def test_a_tenth_of_the_paper_cohort_meets_the_full_scale_checks(tmp_path):
    """The acceptance checks of bench/split_full_scale.py on the demo planner's cohort at scale 0.1."""
    cases = split_manifest(0.1, seed=102)
    summary = split_cohort(cases, PAPER, 102, tmp_path)
    for name in SETS:
        target = summary["target_images"][name]
        assert abs(summary["images"][name] - target) <= 0.01 * target, summary
        assert max(summary["max_share_deviation_pp"][name][k] for k in ("ga", "bw")) <= 2.0, summary
        assert summary["hospitals"][name] == 11
    assert summary["leaked_patients"] == 0 and sum(summary["images"].values()) == len(cases)
    written = load_manifests([tmp_path / "split.tsv"])
    assert written.groupby("patient_id").set.nunique().max() == 1


def test_families_stay_together():
    cases = manifest(40).assign(family_id=lambda f: f.patient_id.str[:-1])  # groups of up to 10 "siblings"
    sets = assign_sets(cases, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=102)
    assert cases.assign(set=sets).groupby("family_id").set.nunique().max() == 1
    singles = cases.assign(family_id=None)  # no family key: each patient is its own unit
    assert assign_sets(singles, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=102).notna().all()


def test_the_demo_planners_twins_share_a_set():
    """Twins of the synthetic cohort (one family_id, two patients) are never split up."""
    cases = split_manifest(0.1, seed=102)
    sets = assign_sets(cases, PAPER, seed=102)
    patients = cases.groupby("family_id").patient_id.nunique()
    assert patients.max() == 2 and (patients == 2).sum() >= 5
    assert cases.assign(set=sets).groupby("family_id").set.nunique().max() == 1


def test_rare_strata_follow_the_documented_rule(caplog):
    three_each = pd.DataFrame({"case_id": [f"H{h:02d}_{p}" for h in range(1, 12) for p in range(3)],
                               "patient_id": [f"{h}-{p}" for h in range(1, 12) for p in range(3)],
                               "hospital": [f"H{h:02d}" for h in range(1, 12) for _ in range(3)],
                               "ga_group": "GA01", "bw_group": "BW01"})
    sets = assign_sets(three_each, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=102)
    assert (pd.crosstab(three_each.hospital, sets) == 1).all().all()  # three patients: one in each set

    cases = manifest(300)
    rare = pd.DataFrame({"case_id": ["H12_a_01", "H12_a_02", "H13_b_01", "H13_c_01", "H01_d_01"],
                         "patient_id": ["a", "a", "b", "c", "d"], "hospital": ["H12", "H12", "H13", "H13", "H01"],
                         "ga_group": ["GA03", "GA03", "GA01", "GA02", None], "bw_group": "BW01"})
    with caplog.at_level(logging.WARNING, logger="neovert.split"):
        sets = assign_sets(pd.concat([cases, rare], ignore_index=True), PAPER, seed=102)
    assert sets.notna().all() and sets.iloc[-5] == sets.iloc[-4]  # one patient, one set
    assert re.search(r"H12: no patients in \w+, \w+ \(1 patients", caplog.text)  # one patient: one set
    assert re.search(r"H13: no patients in \w+ \(2 patients", caplog.text)  # two patients: two sets
    assert "H01: no patients" not in caplog.text

    no_val = assign_sets(cases, {"train": 0.8, "val": 0, "test": 0.2}, seed=102)
    assert set(no_val) == {"train", "test"}
    assert assign_sets(manifest(1), {"train": 0.6, "val": 0.2, "test": 0.2}, seed=102).nunique() == 1


@pytest.mark.parametrize("change, message", [
    (lambda f: f.drop(columns="bw_group"), "lacks columns"),
    (lambda f: f.iloc[:0], "no cases"),
    (lambda f: pd.concat([f, f.iloc[:1]]), "more than once"),
    (lambda f: f.assign(patient_id=None), "without patient_id"),
])
def test_unsplittable_manifests_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        assign_sets(change(manifest(20)), PAPER, seed=102)
    with pytest.raises(ValueError, match="non-negative"):
        assign_sets(manifest(20), {"train": 1, "val": -1, "test": 0}, seed=102)


def test_resplit_keeps_earlier_patients_and_balances_the_new(tmp_path):
    cases = split_manifest(0.1, seed=102)
    patients = cases.patient_id.unique()
    new = set(patients[::10])
    several = cases.patient_id.value_counts().loc[lambda n: n > 1].index.difference(sorted(new))
    grown = cases.patient_id.isin(several[::5]) & cases.case_id.str.endswith("_01")  # their first image is late
    earlier = cases[~cases.patient_id.isin(new) & ~grown]
    split_cohort(earlier, PAPER, 102, tmp_path / "before")
    before = load_manifests([tmp_path / "before" / "split.tsv"])

    main(["split", "--manifest", str(_tsv(cases, tmp_path / "all.tsv")), "--out", str(tmp_path / "after"),
          "--previous", str(tmp_path / "before" / "split.tsv")])
    after = load_manifests([tmp_path / "after" / "split.tsv"])
    assert len(after) == len(cases) and after.groupby("patient_id").set.nunique().max() == 1
    assert before.merge(after, on="case_id").eval("set_x == set_y").all()
    old_set = before.groupby("patient_id").set.first()
    late = after[after.case_id.isin(cases.case_id[grown])]
    assert len(late) and (late.set == late.patient_id.map(old_set)).all()
    added = after[after.patient_id.isin(new)]
    assert set(added.set) == set(SETS)  # new patients go where the quotas need them
    share = after.set.value_counts(normalize=True)
    for name, weight in PAPER.items():
        assert share[name] == pytest.approx(weight / 14660, abs=0.01)

    fresh = split_cohort(cases, PAPER, 102, tmp_path / "fresh")
    assert not (load_manifests([tmp_path / "fresh" / "split.tsv"]).set.to_numpy() == after.set.to_numpy()).all()
    assert fresh["patients_kept"] == 0


def test_resplit_keeps_a_family_together_and_rejects_a_leaky_previous_split(tmp_path):
    cases = manifest(60).assign(family_id=lambda f: f.patient_id.str[:-1])
    previous = cases[cases.patient_id != "p00011"].assign(set="test")  # p00011 is new, its family was in test
    sets = assign_sets(cases, PAPER, 102, previous.groupby("patient_id").set.first())
    assert (sets[cases.patient_id == "p00011"] == "test").all()
    twice = previous.patient_id.value_counts().index[0]  # a patient with several images
    leaky = previous.copy()
    leaky.loc[leaky.index[leaky.patient_id == twice][0], "set"] = "train"
    with pytest.raises(ValueError, match="more than one set"):
        split_cohort(cases, PAPER, 102, tmp_path, previous=leaky)


def test_balance_report_has_table1_per_set_and_the_largest_differences():
    split = pd.DataFrame({"case_id": list("abcdef"), "patient_id": list("abcdef"),
                          "hospital": ["H01"] * 4 + ["H02"] * 2,
                          "ga_group": ["GA01", "GA02", "GA01", "GA01", "GA03", "GA03"],
                          "bw_group": "BW01", "tube": [1, 0, 0, 0, 1, 1],
                          "set": ["train", "train", "val", "test", "train", "test"]})
    report = balance_report(split).set_index(["set", "hospital"])
    assert report.loc[("train", "H01"), "GA01_pct"] == 50 and report.loc[("val", "H01"), "GA01_pct"] == 100
    assert report.loc[("all", "all"), "images"] == 6 and report.loc[("train", "all"), "patients"] == 3
    assert report.loc[("val", "H02"), "images"] == 0 and np.isnan(report.loc[("val", "H02"), "GA03_pct"])
    assert report.loc[("max_diff", "H01"), "GA01_pct"] == 50 and report.loc[("max_diff", "H01"), "tube_pct"] == 50
    assert report.loc[("max_diff", "H02"), "GA03_pct"] == 0  # val holds none of H02: not a difference


def test_outputs_feed_nnunet_and_rerun_identically(tmp_path):
    cases = manifest(200)
    split_cohort(cases, {"train": 0.6, "val": 0.2, "test": 0.2}, 102, tmp_path / "a")
    split_cohort(cases, {"train": 0.6, "val": 0.2, "test": 0.2}, 102, tmp_path / "b")
    for name in ("split.tsv", "splits_final.json", "balance.tsv", "balance.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    folds = json.loads((tmp_path / "a" / "splits_final.json").read_text())
    split = pd.read_csv(tmp_path / "a" / "split.tsv", sep="\t")
    assert len(folds) == 1 and set(folds[0]["val"]) == set(split.case_id[split.set == "val"])
    assert not set(folds[0]["train"]) & set(split.case_id[split.set == "test"])
    assert set(split.hospital[split.set == "test"]) == set(split.hospital)
    assert list(split.columns) == ["case_id", "patient_id", "hospital", "ga_group", "bw_group", "tube", "set"]
    markdown = (tmp_path / "a" / "balance.md").read_text()
    assert "## val" in markdown and "## Largest difference between sets" in markdown


def test_split_keeps_the_hard_film_flags_as_read(tmp_path):
    """Manifests of a demo hospital (flags) and a real one (columns empty) read back together:
    the flags stay 0/1 and empty, never 1.000000, and do not change the assignment."""
    cases = manifest(60)
    demo = cases.hospital < "H06"
    flagged = cases.assign(**{flag: np.where(demo, (np.arange(len(cases)) + i) % 3 == 0, np.nan)
                              for i, flag in enumerate(FLAG_COLUMNS)})
    fractions = {"train": 0.6, "val": 0.2, "test": 0.2}
    split_cohort(load_manifests([_tsv(flagged, tmp_path / "manifest.tsv")]), fractions, 102, tmp_path / "a")
    split_cohort(cases, fractions, 102, tmp_path / "b")
    split = pd.read_csv(tmp_path / "a" / "split.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert list(split.columns) == ["case_id", "patient_id", "hospital", "ga_group", "bw_group", "tube",
                                   *FLAG_COLUMNS, "set"]
    demo = split.hospital < "H06"
    for flag in FLAG_COLUMNS:
        assert set(split[flag][demo]) == {"0", "1"} and set(split[flag][~demo]) == {""}
    plain = pd.read_csv(tmp_path / "b" / "split.tsv", sep="\t", dtype=str)
    assert split.set.tolist() == plain.set.tolist()


def _tsv(frame: pd.DataFrame, path):
    frame.to_csv(path, sep="\t", index=False)
    return path


def test_cases_rasterize_excluded_are_left_out(tmp_path, caplog):
    """A case without a label map (status `excluded` in qc.tsv, read with its `#` header) never
    reaches the split; flagged cases do."""
    cases = manifest(8)
    qc = tmp_path / "qc.tsv"
    statuses = ["excluded", "flagged"] + ["ok"] * (len(cases) - 2)
    qc.write_text("# rasterize stage: 2\ncase_id\tstatus\n"
                  + "".join(f"{c}\t{s}\n" for c, s in zip(cases.case_id, statuses)))
    kept = labelled(cases, load_manifests([qc]))
    assert list(kept.case_id) == list(cases.case_id[1:])
    assert cases.case_id[0] in caplog.text
