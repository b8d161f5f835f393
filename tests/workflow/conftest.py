"""Run the real workflow in a scratch folder: its own config, cohort, secrets and results."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`snakemake` on the repository's Snakefile with `workdir` as working directory."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               NEOVERT_SECRETS_DIR=str(workdir / "secrets"))
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(workdir), "--workflow-profile", str(REPO / "profiles" / "default"), *args]
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    if check and result.returncode:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return result


def write_config(workdir: Path, **overrides: dict) -> Path:
    """The repository's config.yaml with per-section overrides, written into workdir."""
    config = _merge(yaml.safe_load((REPO / "config.yaml").read_text()), overrides)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _merge(base: dict, changes: dict) -> dict:
    """Nested dict update: only the keys a test names change."""
    merged = dict(base)
    for key, value in changes.items():
        merged[key] = _merge(base.get(key, {}), value) if isinstance(value, dict) else value
    return merged


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    from neovert.pseudonym import create_key

    create_key(tmp_path / "secrets" / "pseudonym.key")
    return tmp_path
