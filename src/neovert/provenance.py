"""What a stage did, written next to its outputs: versions, parameters, input hashes, counts.

Hashes and versions let an auditor tell whether two tables came from the same inputs and code.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

from neovert import __version__
from neovert.io import write_json

PACKAGES = ("nnunetv2", "torch", "pydicom", "SimpleITK", "numpy", "pandas", "snakemake")


def versions() -> dict[str, str]:
    found = {"neovert": __version__}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def hash_object(obj: object) -> str:
    """sha256 of the canonical JSON form (sorted keys), e.g. of a config subset."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def hash_files(paths: list[Path], root: Path) -> str:
    """sha256 over (path relative to root, bytes) of the files, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def write(path: Path, stage: str, stage_version: str, params: dict, counts: dict) -> None:
    """One JSON record per stage run. No timestamps: reruns stay byte-identical."""
    write_json(
        path,
        {
            "stage": stage,
            "stage_version": stage_version,
            "params": params,
            "params_hash": hash_object(params),
            "counts": counts,
            "versions": versions(),
        },
    )
