# Helpers for the .smk files: config lookups, path helpers, input functions (no rules here).

import importlib
import os
from pathlib import Path

from neovert import nnunet

HOSPITALS = config["cohort"]["hospitals"]
COHORT = config["cohort"]["root"]
SETUP = config["nnunet"]["setups"][config["nnunet"]["setup"]]
NNUNET_PATHS = nnunet.Paths(
    Path("results/nnunet"), config["nnunet"]["dataset_id"], config["nnunet"]["dataset_name"]
)
# what planning depends on: a new training budget must not redo the preprocessing
PLANNING = {
    k: v for k, v in SETUP.items() if k in ("plans", "configuration", "device", "target_spacing_mm", "patch_size", "batch_size")
}
MODEL = NNUNET_PATHS.model_folder(nnunet.Setup(**SETUP))
CHECKPOINT = f"{MODEL}/fold_{SETUP.get('fold', 0)}/checkpoint_final.pth"


def secrets_dir():
    """Key and re-identification maps: NEOVERT_SECRETS_DIR wins over config (never in results/)."""
    return os.environ.get("NEOVERT_SECRETS_DIR") or config["deid"]["secrets_dir"]


def stage_version(stage):
    """The stage module's STAGE_VERSION: bumping it reruns that stage and what depends on it."""
    return importlib.import_module(f"neovert.{stage}").STAGE_VERSION


def declared_spacing(wildcards):
    """The pixel pitch in mm a hospital declared for files that carry no spacing (config
    strip.declared_spacing_mm), or None: such files are then quarantined."""
    return config["strip"]["declared_spacing_mm"].get(wildcards.hospital)


def annotation_format(wildcards):
    """How a hospital delivers its polygons (config cohort.annotation_format, `default` for the rest)."""
    formats = config["cohort"]["annotation_format"]
    return formats.get(wildcards.hospital, formats["default"])


def clinical_sheet(wildcards):
    """A hospital's delivery is found through its clinical sheet."""
    return f"{COHORT}/{wildcards.hospital}/clinical.csv"


def per_hospital(pattern):
    """One path per configured hospital, e.g. for a stage's target rule."""
    return expand(pattern, hospital=HOSPITALS)


def config_hash():
    """Hash of the whole validated config, printed on every result table."""
    from neovert.provenance import hash_object

    return hash_object(config)
