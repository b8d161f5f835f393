"""nnU-Net v2 driven through its own command-line tools: export, plan + preprocess, train, predict.

nnU-Net is used as installed (never patched): our trainers are registered through the
`nnUNet_extTrainer` folder variable, our split goes into `splits_final.json`, and every call gets
its paths and thread settings through environment variables, so several datasets or jobs never
share hidden state. Names inside results/nnunet/ are nnU-Net's own (DatasetNNN_Name,
{case}_0000.nii.gz, TRAINER__PLANS__CONFIG/fold_N).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from neovert import LABELS
from neovert.io import read_tsv, write_json
from neovert.provenance import hash_files, versions

STAGE_VERSION = "2"
TRAINERS_DIR = Path(__file__).parent / "nnunet_trainers"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Setup:
    """One training recipe. `demo` and `paper` in config.yaml are two instances of this."""

    plans: str
    trainer: str = ""  # not needed for planning
    configuration: str = "2d"
    fold: int = 0
    device: str = "cpu"
    tta: bool = True
    target_spacing_mm: float | None = None  # None: nnU-Net's median spacing
    patch_size: list[int] | None = None  # None: nnU-Net's planned patch
    batch_size: int | None = None
    budget: dict[str, int] = field(default_factory=dict)  # epochs / iterations / val_iterations (short trainer)


@dataclass(frozen=True)
class Paths:
    """nnU-Net's three folders, all under results/nnunet/."""

    root: Path
    dataset_id: int
    dataset_name: str

    @property
    def dataset(self) -> str:
        return f"Dataset{self.dataset_id:03d}_{self.dataset_name}"

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def preprocessed(self) -> Path:
        return self.root / "preprocessed"

    @property
    def trained(self) -> Path:
        return self.root / "trained"

    def model_folder(self, setup: Setup) -> Path:
        return self.trained / self.dataset / f"{setup.trainer}__{setup.plans}__{setup.configuration}"


def environment(paths: Paths, setup: Setup, threads: int) -> dict[str, str]:
    """Everything nnU-Net reads from the environment, set per call."""
    on_cpu = setup.device == "cpu"
    env = dict(os.environ)
    env.update(
        nnUNet_raw=str(paths.raw.resolve()),
        nnUNet_preprocessed=str(paths.preprocessed.resolve()),
        nnUNet_results=str(paths.trained.resolve()),
        nnUNet_extTrainer=str(TRAINERS_DIR),
        nnUNet_def_n_proc=str(threads),  # default of 8 spawn workers swamps a small node
        # augmentation in the main process on CPU: faster there, and bitwise repeatable
        nnUNet_n_proc_DA=str(0 if on_cpu else threads),
        nnUNet_compile="f" if on_cpu else os.environ.get("nnUNet_compile", "t"),
        NEOVERT_TORCH_THREADS=str(threads),
        NEOVERT_EPOCHS=str(setup.budget.get("epochs", 1000)),
        NEOVERT_ITERATIONS=str(setup.budget.get("iterations", 250)),
        NEOVERT_VAL_ITERATIONS=str(setup.budget.get("val_iterations", 50)),
    )
    return env


def _run(tool: str, *args: object, env: dict[str, str]) -> None:
    """Run one nnU-Net console script from this interpreter's environment; fail loudly."""
    command = [str(Path(sys.executable).with_name(tool)), *map(str, args)]
    log.info("running %s", " ".join(command))
    tail: list[str] = []
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        for line in process.stdout:  # nnU-Net's own output goes into the rule's log
            log.info("%s: %s", tool, line.rstrip())
            tail = (tail + [line])[-20:]
    if process.returncode:
        raise RuntimeError(f"{tool} failed with exit code {process.returncode}; last output:\n{''.join(tail)}")


def export_dataset(split_tsv: Path, images: Path, labels: Path, paths: Paths) -> int:
    """Copy train + val cases into nnU-Net's raw layout (test cases never enter imagesTr).

    `images` and `labels` are the parents of the per-hospital folders
    (results/strip/<hospital>/images, results/rasterize/<hospital>/labels).
    """
    split = read_tsv(split_tsv)
    training = split[split.set.isin(["train", "val"])].sort_values("case_id")
    target = paths.raw / paths.dataset
    if target.exists():
        shutil.rmtree(target)
    for case in training.itertuples(index=False):
        _copy(images / case.hospital / "images" / f"{case.case_id}.nii.gz",
              target / "imagesTr" / f"{case.case_id}_0000.nii.gz")
        _copy(labels / case.hospital / "labels" / f"{case.case_id}.nii.gz",
              target / "labelsTr" / f"{case.case_id}.nii.gz")
    write_json(target / "dataset.json", {
        "channel_names": {"0": "Xray"},  # not "CT": per-image z-score normalisation, as in the paper
        "labels": LABELS,
        "numTraining": len(training),
        "file_ending": ".nii.gz",
    })
    log.info("exported %d training/validation cases to %s", len(training), target)
    return len(training)


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def set_patch_and_batch(plans: dict, configuration: str, patch: list[int], batch: int) -> None:
    """Give a configuration a fixed patch and batch size, recomputing the U-Net topology the way
    nnU-Net's planner does (pooling per axis until the feature map edge would drop below 4)."""
    from nnunetv2.experiment_planning.experiment_planners.network_topology import get_pool_and_conv_props

    config = plans["configurations"][configuration]
    _, strides, kernels, fitted, _ = get_pool_and_conv_props(config["spacing"], patch, 4, 999999)
    if [int(v) for v in fitted] != list(patch):
        raise ValueError(f"patch {patch} is not divisible by the network's pooling; nearest valid {list(fitted)}")
    n = len(strides)
    config["architecture"]["arch_kwargs"].update(
        n_stages=n, kernel_sizes=kernels, strides=strides,
        features_per_stage=[min(512, 32 * 2**i) for i in range(n)],
        n_conv_per_stage=[2] * n, n_conv_per_stage_decoder=[2] * (n - 1),
    )
    config.update(patch_size=list(patch), batch_size=batch)


def plan_and_preprocess(paths: Paths, setup: Setup, splits_file: Path, threads: int) -> Path:
    """Fingerprint, plan (with the setup's overrides), preprocess, then install our split.

    The split goes in last, as `splits_final.json`, so nnU-Net never invents its own random
    5-fold split; a fold the file does not define is refused here rather than at training time.
    """
    env = environment(paths, setup, threads)
    env["nnUNet_n_proc_DA"] = str(threads)  # planning calls set_num_threads(n_proc_DA): 0 crashes it
    _run("nnUNetv2_extract_fingerprint", "-d", paths.dataset_id, "-np", threads, env=env)
    spacing = [] if setup.target_spacing_mm is None else [
        "-overwrite_target_spacing", _dummy_axis_spacing(paths), setup.target_spacing_mm, setup.target_spacing_mm]
    _run("nnUNetv2_plan_experiment", "-d", paths.dataset_id, "-overwrite_plans_name", setup.plans, *spacing, env=env)
    plans_file = paths.preprocessed / paths.dataset / f"{setup.plans}.json"
    if setup.patch_size or setup.batch_size:
        plans = json.loads(plans_file.read_text())
        config = plans["configurations"][setup.configuration]
        set_patch_and_batch(plans, setup.configuration, setup.patch_size or config["patch_size"],
                            setup.batch_size or config["batch_size"])
        write_json(plans_file, plans)
    _run("nnUNetv2_preprocess", "-d", paths.dataset_id, "-plans_name", setup.plans,
         "-c", setup.configuration, "-np", threads, env=env)
    folds = json.loads(Path(splits_file).read_text())
    if setup.fold >= len(folds):
        raise ValueError(f"fold {setup.fold} not in {splits_file} ({len(folds)} folds)")
    shutil.copyfile(splits_file, paths.preprocessed / paths.dataset / "splits_final.json")
    return plans_file


def _dummy_axis_spacing(paths: Paths) -> float:
    """nnU-Net gives 2D images a dummy first axis with a made-up spacing (999 x the largest
    in-plane spacing). A target spacing must keep that axis at its median, or the planner
    sees 0 slices and tries (and fails) to plan a 3D configuration."""
    fingerprint = json.loads((paths.preprocessed / paths.dataset / "dataset_fingerprint.json").read_text())
    return float(statistics.median(s[0] for s in fingerprint["spacings"]))


FINGERPRINT = "neovert_fingerprint.json"


def training_fingerprint(paths: Paths, setup: Setup) -> dict:
    """What a training run is a function of: the split, plans, dataset description and nnU-Net's
    dataset fingerprint (intensity and shape statistics of every training case, so new or changed
    images or labels show), the recipe, and the code versions. A run is resumed only under the
    same fingerprint."""
    dataset = paths.preprocessed / paths.dataset
    files = ["splits_final.json", f"{setup.plans}.json", "dataset.json", "dataset_fingerprint.json"]
    recipe = {k: v for k, v in asdict(setup).items() if k not in ("tta",)}  # tta only matters for inference
    return json.loads(json.dumps({
        "files": {name: hash_files([dataset / name], dataset) for name in files},
        "recipe": recipe,
        "versions": {**{k: v for k, v in versions().items() if k in ("nnunetv2", "torch")},
                     "neovert.nnunet": STAGE_VERSION,
                     "trainers": hash_files([TRAINERS_DIR / "neovert_trainers.py"], TRAINERS_DIR)},
    }))


def train(paths: Paths, setup: Setup, threads: int) -> Path:
    """Train one fold, resuming an interrupted run; returns checkpoint_final.pth.

    A walltime kill or preemption leaves nnU-Net's checkpoint_latest.pth in the fold folder
    (written every `save_every` epochs; a finished run deletes it). If it loads and the
    fingerprint stored beside it (`training_fingerprint`) equals the current one, training
    continues from it (nnU-Net's --c: the epoch counter goes on); otherwise the folder is cleared
    and training starts afresh, so a changed split, plan or recipe never resumes a stale run.
    Resumed runs are not bitwise equal to uninterrupted ones: nnU-Net does not checkpoint the
    random state of augmentation.
    """
    fold = paths.model_folder(setup) / f"fold_{setup.fold}"
    stamp, current = fold / FINGERPRINT, training_fingerprint(paths, setup)
    latest = fold / "checkpoint_latest.pth"
    same = stamp.is_file() and json.loads(stamp.read_text()) == current
    resume = same and latest.is_file() and _readable(latest)  # unreadable: killed while saving
    if resume:
        log.info("resuming from %s (same fingerprint)", latest)
    else:
        if fold.exists():
            log.info("starting afresh: %s", "no readable checkpoint_latest.pth" if same else "the fingerprint changed")
            shutil.rmtree(fold)
        write_json(stamp, current)
    _run("nnUNetv2_train", paths.dataset_id, setup.configuration, setup.fold, "-tr", setup.trainer,
         "-p", setup.plans, "-device", setup.device, *(["--c"] if resume else []),
         env=environment(paths, setup, threads))
    return fold / "checkpoint_final.pth"


def _readable(checkpoint: Path) -> bool:
    import torch

    try:
        torch.load(checkpoint, map_location="cpu", weights_only=False)
    except Exception:  # any damage (truncation, bad zip, bad pickle) means: do not resume from it
        return False
    return True


def predict(case_ids: list[str], images: Path, out_dir: Path, paths: Paths, setup: Setup, threads: int) -> int:
    """Predict the given cases (images/<case>.nii.gz) into out_dir/<case>.nii.gz in one call,
    so the model is loaded once per hospital."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if not case_ids:
        log.warning("no cases to predict")
        return 0
    with tempfile.TemporaryDirectory(dir=out_dir.parent) as staging:
        for case_id in case_ids:  # nnU-Net wants {case}_0000.nii.gz: link, don't copy
            os.symlink((images / f"{case_id}.nii.gz").resolve(), Path(staging) / f"{case_id}_0000.nii.gz")
        tta = [] if setup.tta else ["--disable_tta"]
        _run("nnUNetv2_predict", "-i", staging, "-o", out_dir, "-d", paths.dataset_id, "-c", setup.configuration,
             "-tr", setup.trainer, "-p", setup.plans, "-f", setup.fold, "-device", setup.device,
             "-npp", 0, "-nps", 0, "--disable_progress_bar", *tta, env=environment(paths, setup, threads))
    return len(case_ids)


def hospital_test_cases(split_tsv: Path, hospital: str) -> list[str]:
    split = read_tsv(split_tsv)
    return sorted(split.case_id[(split.hospital == hospital) & (split.set == "test")])
