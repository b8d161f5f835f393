"""neovert's nnU-Net trainers, found by nnU-Net through the `nnUNet_extTrainer` folder variable.

nnU-Net imports this file by path (this folder is not a package), so it may only import
nnU-Net, torch and the standard library.
"""

import os
import random

import numpy as np
import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class nnUNetTrainer_NeoVert(nnUNetTrainer):
    """The paper's recipe. nnU-Net 2.8.1's defaults already are SGD (Nesterov, momentum 0.99),
    poly LR from 0.01, Dice + CE and 1000 epochs of 250 iterations; the paper adds seed 102.
    Seeding at construction, network creation and train start makes a CPU run with
    nnUNet_n_proc_DA=0 bitwise repeatable."""

    SEED = 102
    # nnU-Net writes checkpoint_latest.pth every 50 epochs; a preempted GPU job would lose up to
    # half an hour. Every 10 epochs costs a few seconds per save and changes nothing else.
    SAVE_EVERY = 10

    def __init__(self, plans, configuration, fold, dataset_json, device=torch.device("cuda")):
        _seed_everything(self.SEED)
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.save_every = self.SAVE_EVERY

    def initialize(self):
        threads = os.environ.get("NEOVERT_TORCH_THREADS")
        if threads:  # nnU-Net sets one thread per core; a shared node needs the job's share
            torch.set_num_threads(int(threads))
        _seed_everything(self.SEED)
        super().initialize()

    def on_train_start(self):
        super().on_train_start()
        _seed_everything(self.SEED)


class nnUNetTrainer_NeoVertShort(nnUNetTrainer_NeoVert):
    """Same recipe on a small budget for CPU demos and tests: epochs, iterations per epoch and
    validation iterations come from NEOVERT_EPOCHS, NEOVERT_ITERATIONS, NEOVERT_VAL_ITERATIONS.
    Epochs are short, so every one ends with a resumable checkpoint."""

    SAVE_EVERY = 1

    def __init__(self, plans, configuration, fold, dataset_json, device=torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.num_epochs = int(os.environ.get("NEOVERT_EPOCHS", "2"))
        self.num_iterations_per_epoch = int(os.environ.get("NEOVERT_ITERATIONS", "2"))
        self.num_val_iterations_per_epoch = int(os.environ.get("NEOVERT_VAL_ITERATIONS", "1"))
