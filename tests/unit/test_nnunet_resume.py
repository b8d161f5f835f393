"""Training survives a kill: nnunet.train resumes from checkpoint_latest.pth under the same
fingerprint (the epoch counter goes on) and starts afresh under a changed one. Real nnU-Net on a
tiny generated dataset, on the CPU (about a minute)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from neovert import nnunet
from neovert.io import write_image

SETUP = nnunet.Setup(plans="nnUNetPlansTiny", trainer="nnUNetTrainer_NeoVertShort", device="cpu", tta=False,
                     batch_size=2, budget={"epochs": 3, "iterations": 1, "val_iterations": 1})


def tiny_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A 64 x 64 'radiograph' with a lung blob and three vertebra squares, and its label map."""
    labels = np.zeros((64, 64), np.uint8)
    labels[8:56, 4:24] = 1
    for label, row in ((2, 8), (3, 28), (4, 48)):
        labels[row:row + 6, 34:42] = label
    image = labels * 40.0 + rng.normal(0, 5, labels.shape)
    return image.astype(np.float32), labels


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    rng = np.random.default_rng(102)
    cases = [f"H01_p{i}_1" for i in range(6)]
    for case in cases:
        image, labels = tiny_case(rng)
        write_image(root / "strip" / "H01" / "images" / f"{case}.nii.gz", image, (0.6, 0.6))
        write_image(root / "rast" / "H01" / "labels" / f"{case}.nii.gz", labels, (0.6, 0.6))
    sets = ["train"] * 4 + ["val"] * 2
    pd.DataFrame({"case_id": cases, "hospital": "H01", "set": sets}).to_csv(root / "split.tsv", sep="\t", index=False)
    (root / "splits_final.json").write_text(json.dumps([{"train": cases[:4], "val": cases[4:]}]))
    paths = nnunet.Paths(root / "nnunet", 998, "Tiny")
    nnunet.export_dataset(root / "split.tsv", root / "strip", root / "rast", paths)
    nnunet.plan_and_preprocess(paths, SETUP, root / "splits_final.json", threads=1)
    return paths


def epochs_run(fold) -> list[list[int]]:
    """The epochs each nnU-Net run in `fold` started, one list per training log, oldest first."""
    logs = sorted(fold.glob("training_log_*.txt"))
    return [[int(n) for n in re.findall(r": Epoch (\d+)", path.read_text())] for path in logs]


def test_a_killed_training_resumes_and_a_changed_one_starts_afresh(prepared):
    paths = prepared
    fold = paths.model_folder(SETUP) / "fold_0"
    call = (f"from pathlib import Path; from neovert import nnunet; "
            f"nnunet.train(nnunet.Paths(Path({str(paths.root)!r}), {paths.dataset_id}, {paths.dataset_name!r}), "
            f"nnunet.Setup(**{dataclasses.asdict(SETUP)!r}), threads=1)")
    job = subprocess.Popen([sys.executable, "-c", call], start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not any(1 in run for run in epochs_run(fold)):  # epoch 1 starts after epoch 0's checkpoint
        assert job.poll() is None and time.monotonic() < deadline, "training ended or hung before epoch 1"
        time.sleep(0.2)
    os.killpg(job.pid, signal.SIGKILL)  # a walltime kill: no clean-up of any kind
    job.wait()
    assert (fold / "checkpoint_latest.pth").is_file() and not (fold / "checkpoint_final.pth").exists()

    time.sleep(1.1)  # nnU-Net names its logs by the second
    assert nnunet.train(paths, SETUP, threads=1).is_file()
    first, resumed = epochs_run(fold)
    assert first[0] == 0 and resumed == [1, 2], "the retry must continue the epoch counter"

    longer = dataclasses.replace(SETUP, budget={**SETUP.budget, "epochs": 1})
    assert nnunet.training_fingerprint(paths, longer) != json.loads((fold / nnunet.FINGERPRINT).read_text())
    (fold / "checkpoint_latest.pth").write_bytes(b"left over")  # would be resumed if the fingerprint matched
    nnunet.train(paths, longer, threads=1)
    assert epochs_run(fold) == [[0]], "a changed recipe clears the folder and starts at epoch 0"
