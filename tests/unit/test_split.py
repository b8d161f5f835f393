import json

import numpy as np
import pandas as pd
import pytest

from neovert.split import assign_sets, split_cohort


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
    fractions = {"train": 11860, "val": 1400, "test": 1400}
    sets = assign_sets(cases, fractions, seed=102)
    assert cases.assign(set=sets).groupby("patient_id").set.nunique().max() == 1
    share = sets.value_counts(normalize=True)
    for name, weight in fractions.items():
        assert share[name] == pytest.approx(weight / 14660, abs=0.01)
    for column in ("hospital", "ga_group", "bw_group"):  # every group in every set, shares close
        table = pd.crosstab(cases[column], sets, normalize="columns")
        assert (table.max(axis=1) - table.min(axis=1)).max() < 0.03
    assert sets.equals(assign_sets(cases.sample(frac=1, random_state=1).sort_index(), fractions, seed=102))
    assert not sets.equals(assign_sets(cases, fractions, seed=103))


def test_families_stay_together_and_rare_strata_do_not_crash():
    cases = manifest(40).assign(family_id=lambda f: f.patient_id.str[:-1])  # pairs of "twins"
    sets = assign_sets(cases, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=102)
    assert cases.assign(set=sets).groupby("family_id").set.nunique().max() == 1
    tiny = pd.DataFrame({"case_id": [f"H{h:02d}_{p}" for h in range(1, 12) for p in range(3)],
                         "patient_id": [f"{h}-{p}" for h in range(1, 12) for p in range(3)],
                         "hospital": [f"H{h:02d}" for h in range(1, 12) for _ in range(3)],
                         "ga_group": "GA01", "bw_group": "BW01"})
    sets = assign_sets(tiny, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=102)
    assert (pd.crosstab(tiny.hospital, sets) == 1).all().all()  # three patients: one in each set
    single = manifest(1)
    assert assign_sets(single, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=102).nunique() == 1


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
