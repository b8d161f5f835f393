"""`snakemake -n` time on the full-scale configuration (the paper's 14,660 images, 11 hospitals).

Why: users rerun single stages and dry-run often; the goal is under 15 s. Jobs are batched per
hospital, so the DAG has the same 74 jobs at every scale; what could grow with the cohort is the
file checking. Two states are timed, each `--repeat` times, in a scratch working directory with
the repository's Snakefile, workflow profile and config (synth.scale 1.0, the paper's split):

- fresh: nothing generated yet, every job is planned;
- complete: every output of the fresh plan exists, per-hospital folders holding one empty file
  per image of the full cohort (about 88,000 files), marked up to date with `--touch`; the dry
  run must find nothing to do.

Writes benchmarks/dag_full_scale.json and prints a Markdown table.

    .venv/bin/python bench/dag_full_scale.py [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from neovert.synth.cohort import TABLE1

REPO = Path(__file__).resolve().parents[1]
GOAL_S = 15.0
FULL_SCALE = {"synth": {"scale": 1.0}, "split": {"fractions": {"train": 11860, "val": 1400, "test": 1400}}}
IMAGES = {row.hospital: row.images for row in TABLE1}


def snakemake(workdir: Path, *args: str) -> tuple[float, str]:
    """Seconds and stdout of one `snakemake` call in `workdir`, as a user would type it."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory",
               str(workdir), "--workflow-profile", str(REPO / "profiles" / "default"), "--cores", "2", *args]
    env = dict(os.environ, NEOVERT_SECRETS_DIR=str(workdir / "secrets"))
    started = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"snakemake {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds, done.stdout + done.stderr


def full_scale_config(workdir: Path) -> None:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for section, values in FULL_SCALE.items():
        config[section] = {**config[section], **values}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def fill_outputs(workdir: Path, plan: str) -> int:
    """Create every output the dry run planned; a folder output gets one file per image of its hospital."""
    created = 0
    for line in re.findall(r"^\s*output: (.+)$", plan, re.M):
        for name in line.split(", "):
            path = workdir / name
            if path.suffix:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
                created += 1
                continue
            path.mkdir(parents=True, exist_ok=True)
            hospital = next((h for h in IMAGES if h in path.parts), None)
            for number in range(1, IMAGES.get(hospital, 0) + 1):
                (path / f"{hospital}_{number:05d}.nii.gz").touch()
            created += IMAGES.get(hospital, 0)
    return created


def timed(workdir: Path, repeat: int) -> tuple[list[float], str]:
    runs = [snakemake(workdir, "-n") for _ in range(repeat)]
    return [round(seconds, 2) for seconds, _ in runs], runs[-1][1]


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--repeat", type=int, default=3)
    options.add_argument("--keep", type=Path, help="work here instead of a temporary folder, and keep it")
    args = options.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.keep or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        full_scale_config(workdir)
        fresh, plan = timed(workdir, args.repeat)
        jobs = int(re.search(r"^total\s+(\d+)$", plan, re.M)[1])
        files = fill_outputs(workdir, plan)
        snakemake(workdir, "--touch")
        complete, nothing = timed(workdir, args.repeat)
        if "Nothing to be done" not in nothing:
            raise SystemExit(f"the complete tree still has work to do:\n{nothing[-3000:]}")

    result = {
        "goal_s": GOAL_S, "repeat": args.repeat, "jobs": jobs, "placeholder_files": files,
        "fresh_s": fresh, "complete_s": complete,
        "fresh_median_s": statistics.median(fresh), "complete_median_s": statistics.median(complete),
    }
    result["pass"] = max(fresh + complete) < GOAL_S
    (REPO / "benchmarks").mkdir(exist_ok=True)
    (REPO / "benchmarks" / "dag_full_scale.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"| state | jobs planned | runs (s) | median (s) |\n|---|---|---|---|\n"
          f"| fresh | {jobs} | {fresh} | {result['fresh_median_s']} |\n"
          f"| complete ({files} files) | 0 | {complete} | {result['complete_median_s']} |")
    sys.exit(0 if result["pass"] else 1)


if __name__ == "__main__":
    main()
