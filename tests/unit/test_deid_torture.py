"""Zero residual PHI, measured byte-wise, on the seeded torture corpus (reference/deid.md §6.1).

`neovert deid` then `neovert strip` run as the site would run them (subprocesses); every byte
they write (files, file and folder names, stdout and stderr) is scanned for every planted token
in every encoding, and the output images are OCR'd for burned-in text. Only the site-private
key and re-identification map are exempt: the map holds input paths by design.

The corpus and scanner are checked first, on the inputs, so that "0 hits" cannot come from a
scanner or OCR that finds nothing.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from neovert.pseudonym import create_key

from ..phi_torture import Corpus, make_corpus, ocr_tokens, scan_bytes, scan_for_tokens

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")


@dataclass
class Run:
    corpus: Corpus
    deid: Path
    strip: Path
    captured: dict[str, bytes]  # stdout + stderr of each command


def _neovert(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "neovert.cli", *args], cwd=cwd, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    root = tmp_path_factory.mktemp("torture")
    corpus = make_corpus(root / "site", n_files=6, seed=7)
    secrets = root / "secrets"
    key = create_key(secrets / "pseudonym.key")
    out = root / "results"
    captured = {}
    commands = {
        "deid": ("deid", "--in", str(corpus.input_dir), "--out", str(out / "deid"), "--clinical", str(corpus.clinical),
                 "--key", str(key), "--map", str(secrets / "map.tsv"), "--hospital", "H00"),
        "strip": ("strip", "--in", str(out / "deid"), "--out", str(out / "strip")),
    }
    for name, args in commands.items():
        done = _neovert(*args, cwd=root)
        captured[name] = done.stdout + done.stderr
        assert done.returncode == 0, f"neovert {name} failed:\n{done.stderr.decode(errors='replace')[-3000:]}"
    return Run(corpus, out / "deid", out / "strip", captured)


def _rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader((line for line in handle if not line.startswith("#")), delimiter="\t"))


def test_corpus_plants_50_tokens_per_file_and_the_scanner_finds_them(tmp_path):
    corpus = make_corpus(tmp_path, n_files=6, seed=7)
    for planted in corpus.files:
        assert len({t.text for t in planted.tokens}) >= 50
    in_bytes = [t for t in corpus.tokens if t.area != "pixels"]
    found = {hit.token for hit in scan_for_tokens([corpus.input_dir, corpus.clinical], in_bytes)}
    assert {t.text for t in in_bytes} - found == set()


@needs_tesseract
def test_ocr_reads_the_burned_in_tokens_of_the_inputs(tmp_path):
    corpus = make_corpus(tmp_path, n_files=6, seed=7)
    for planted in corpus.files:
        assert {hit.token for hit in ocr_tokens([planted.path], planted.burned_in)} == {t.text for t in planted.burned_in}


def test_no_planted_token_in_any_output_byte_name_or_log_line(run):
    hits = scan_for_tokens([run.deid, run.strip], run.corpus.tokens)
    for name, output in run.captured.items():
        hits += scan_bytes(f"neovert {name} stdout/stderr", output, run.corpus.tokens)
    report = "\n".join(f"{h.category:12} {h.token:20} planted at {h.location} -> {h.file} ({h.encoding})" for h in hits)
    assert not hits, f"{len(hits)} PHI leaks:\n{report}"


def test_every_input_ends_converted_or_quarantined(run):
    inputs = [p for p in run.corpus.input_dir.rglob("*") if p.is_file()]
    cases = _rows(run.deid / "cases.tsv")
    converted = _rows(run.strip / "manifest.tsv")
    quarantined = _rows(run.deid / "quarantine.tsv") + _rows(run.strip / "quarantine.tsv")
    assert len(inputs) == len(cases) + len(_rows(run.deid / "quarantine.tsv"))
    assert len(inputs) == len(converted) + len(quarantined)
    images = sorted(p.name for p in (run.strip / "images").glob("*.nii.gz"))
    assert images == sorted(f"{row['case_id']}.nii.gz" for row in converted)


@needs_tesseract
def test_no_burned_in_token_readable_in_the_output_images(run):
    burned = [t for planted in run.corpus.files for t in planted.burned_in]
    hits = ocr_tokens(sorted((run.strip / "images").glob("*.nii.gz")), burned)
    assert not hits, "burned-in PHI still readable: " + ", ".join(f"{h.token} in {Path(h.file).name}" for h in hits)


def test_twins_share_one_family_pseudonym(run):
    """The sheet's family_id (patients 2k and 2k+1 are twins) leaves as one keyed pseudonym per
    family, never equal to a patient pseudonym; the raw value is covered by the byte scan."""
    cases = _rows(run.deid / "cases.tsv")
    families = {}
    for row in cases:
        families.setdefault(row["family_id"], set()).add(row["patient_id"])
    assert sorted(len(patients) for patients in families.values()) == [1, 2]
    assert all(family.startswith("fam") and family not in {r["patient_id"] for r in cases} for family in families)
