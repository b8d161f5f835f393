"""Run the real workflow in a scratch folder: its own config, cohort, secrets and results."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 1800) -> subprocess.CompletedProcess:
    """`snakemake` on the repository's Snakefile with `workdir` as working directory.

    A run past `timeout` seconds is killed with everything it started (its own process group) and
    fails the test with its output, so a hung job cannot hang the whole suite."""
    command, env = snakemake_call(workdir, *args)
    with subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            raise AssertionError(f"snakemake {' '.join(args)} ran past {timeout} s:\n{stdout[-4000:]}\n{stderr[-8000:]}")
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    if check and result.returncode:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{stdout[-4000:]}\n{stderr[-8000:]}")
    return result


def snakemake_call(workdir: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a test's `snakemake`: this interpreter's Snakemake on the
    repository's Snakefile and workflow profile, `workdir`'s config and secrets."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               NEOVERT_SECRETS_DIR=str(workdir / "secrets"))
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(workdir), "--workflow-profile", str(REPO / "profiles" / "default"), *args]
    return command, env


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
