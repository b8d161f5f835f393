import json

import numpy as np
import pandas as pd
import pytest
import yaml

from neovert import LABELS
from neovert.io import write_image
from neovert.nnunet import (
    TRAINERS_DIR, Paths, Setup, environment, export_dataset, hospital_test_cases, set_patch_and_batch,
)

from ..conftest import REPO


def test_both_configured_setups_are_valid_and_the_paper_one_is_the_paper():
    setups = yaml.safe_load((REPO / "config.yaml").read_text())["nnunet"]["setups"]
    demo, paper = Setup(**setups["demo"]), Setup(**setups["paper"])
    assert demo.device == "cpu" and demo.trainer.endswith("Short")
    assert (paper.trainer, paper.patch_size, paper.batch_size, paper.device) == (
        "nnUNetTrainer_NeoVert", [448, 576], 12, "cuda")
    assert (TRAINERS_DIR / "neovert_trainers.py").read_text().count("SEED = 102") == 1


def test_paper_patch_and_batch_get_a_matching_unet_topology():
    plans = {"configurations": {"2d": {"spacing": [0.15, 0.15], "patch_size": [256, 256], "batch_size": 2,
                                       "architecture": {"arch_kwargs": {"n_stages": 7}}}}}
    set_patch_and_batch(plans, "2d", [448, 576], 12)
    config = plans["configurations"]["2d"]
    arch = config["architecture"]["arch_kwargs"]
    assert (config["patch_size"], config["batch_size"], arch["n_stages"]) == ([448, 576], 12, 7)
    assert np.prod(np.array(arch["strides"]), axis=0).tolist() == [64, 64]  # 448 and 576 divide by 2**6
    assert arch["features_per_stage"] == [32, 64, 128, 256, 512, 512, 512]
    with pytest.raises(ValueError, match="not divisible"):
        set_patch_and_batch(plans, "2d", [450, 576], 12)


def test_export_keeps_test_cases_out_and_paths_are_nnunets(tmp_path):
    rows = [("H01_a_01", "train"), ("H01_b_01", "val"), ("H01_c_01", "test")]
    pd.DataFrame([{"case_id": c, "patient_id": c[4], "hospital": "H01", "ga_group": "GA01", "bw_group": "BW01",
                   "set": s} for c, s in rows]).to_csv(tmp_path / "split.tsv", sep="\t", index=False)
    for case, _ in rows:
        write_image(tmp_path / "strip" / "H01" / "images" / f"{case}.nii.gz", np.zeros((4, 4), np.float32), (1, 1))
        write_image(tmp_path / "rast" / "H01" / "labels" / f"{case}.nii.gz", np.zeros((4, 4), np.uint8), (1, 1))
    paths = Paths(tmp_path / "nnunet", 501, "NeoVert")
    assert export_dataset(tmp_path / "split.tsv", tmp_path / "strip", tmp_path / "rast", paths) == 2
    raw = paths.raw / "Dataset501_NeoVert"
    assert sorted(p.name for p in (raw / "imagesTr").iterdir()) == ["H01_a_01_0000.nii.gz", "H01_b_01_0000.nii.gz"]
    assert json.loads((raw / "dataset.json").read_text())["labels"] == LABELS
    assert hospital_test_cases(tmp_path / "split.tsv", "H01") == ["H01_c_01"]
    setup = Setup(plans="nnUNetPlansDemo", trainer="nnUNetTrainer_NeoVertShort", budget={"epochs": 3})
    env = environment(paths, setup, threads=2)
    assert env["nnUNet_n_proc_DA"] == "0" and env["NEOVERT_EPOCHS"] == "3" and env["nnUNet_extTrainer"] == str(TRAINERS_DIR)
    assert paths.model_folder(setup).name == "nnUNetTrainer_NeoVertShort__nnUNetPlansDemo__2d"
