"""The conda environment cluster jobs may run in pins what pyproject.toml pins."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
HOST_ONLY = ("snakemake",)  # snakemake and its plugins run on the submit host


def test_conda_environment_mirrors_the_runtime_pins():
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    environment = yaml.safe_load((ROOT / "envs" / "neovert.yaml").read_text())
    pip = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    assert sorted(pip) == sorted(p for p in pins if not p.startswith(HOST_ONLY))
