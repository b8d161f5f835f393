"""Leak benchmark: the same PHI torture corpus through the de-identification anchors and neovert.

Why: "zero residual PHI" only means something next to what the field's tools leave behind on the
same input (reference/deid.md §6 point 1). Each tool's every output byte and output name is
scanned for the planted tokens (tests/phi_torture.py); burned-in text is counted separately by
OCR, since the header-only anchors never touch pixels. Writes benchmarks/deid_anchors.tsv.

    .venv/bin/python bench/deid_anchors.py [--files 20] [--seed 0] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.phi_torture is a helper module, not an installed package

from tests.phi_torture import Corpus, Hit, make_corpus, ocr_tokens, scan_for_tokens  # noqa: E402

COLUMNS = ["tool", "files_in", "outputs", "planted_tokens", "leaked_tokens", "leaked_per_file",
           "leaked_by_category", "leaked_by_area", "burned_in_readable", "burned_in_planted", "files_per_s"]


def _dicognito(corpus: Corpus, out: Path) -> tuple[list[Path], list[Path]]:
    """dicognito 0.19.0 CLI defaults, run in-process (its own file naming: new SOP Instance UID)."""
    from dicognito.__main__ import main

    main(["--quiet", "--output-directory", str(out), str(corpus.input_dir)])
    files = sorted(out.rglob("*.dcm"))
    return [out], files


def _deid(corpus: Corpus, out: Path, remove_private: bool) -> tuple[list[Path], list[Path]]:
    """pydicom/deid 0.4.13 with its default recipe; it keeps the input file names."""
    from deid.dicom import replace_identifiers

    files = [str(f.path) for f in corpus.files]
    replace_identifiers(files, save=True, output_folder=str(out), remove_private=remove_private)
    return [out], sorted(out.rglob("*.dcm"))


def _neovert(corpus: Corpus, out: Path) -> tuple[list[Path], list[Path]]:
    """`neovert deid` then `neovert strip`; the site-private key and map stay outside `out`.
    Captured stdout/stderr are kept as files under `out` so that they are scanned as well."""
    secrets = out.parent / f"{out.name}-secrets"
    exe = [sys.executable, "-m", "neovert.cli"]
    subprocess.run([*exe, "keygen", str(secrets / "key")], check=True, capture_output=True)
    commands = {
        "deid": [*exe, "deid", "--in", str(corpus.input_dir), "--out", str(out / "deid"), "--clinical",
                 str(corpus.clinical), "--key", str(secrets / "key"), "--map", str(secrets / "map.tsv"),
                 "--hospital", "H00"],
        "strip": [*exe, "strip", "--in", str(out / "deid"), "--out", str(out / "strip")],
    }
    for name, command in commands.items():
        done = subprocess.run(command, capture_output=True)
        (out / "logs").mkdir(parents=True, exist_ok=True)
        (out / "logs" / f"{name}.log").write_bytes(done.stdout + done.stderr)
        if done.returncode:
            raise RuntimeError(f"neovert {name} failed:\n{done.stderr.decode(errors='replace')[-2000:]}")
    return [out], sorted((out / "strip" / "images").glob("*.nii.gz"))


def measure(tool: str, run, corpus: Corpus, out: Path) -> dict:
    """Run one tool, time it, then scan its outputs byte-wise and its images by OCR."""
    out.mkdir(parents=True)
    start = time.perf_counter()
    scan_roots, images = run(corpus, out)
    seconds = time.perf_counter() - start
    hits: list[Hit] = scan_for_tokens(scan_roots, corpus.tokens)
    leaked = {h.token: h for h in hits}
    burned = [t for f in corpus.files for t in f.burned_in]
    readable = {h.token for h in ocr_tokens(images, burned)}
    # a token planted in several areas (a name in PatientName, free text and the path) is
    # counted as "multi": which copy leaked cannot be told from the output
    by_area = Counter(areas.pop() if len(areas := {place.split(":")[0] for place in h.location.split("; ")}) == 1
                      else "multi" for h in leaked.values())
    per_file = [len({t.text for t in f.tokens} & leaked.keys()) for f in corpus.files]
    return {
        "tool": tool, "files_in": len(corpus.files), "outputs": len(images),
        "planted_tokens": len({t.text for t in corpus.tokens}), "leaked_tokens": len(leaked),
        "leaked_per_file": f"{sum(per_file) / len(per_file):.1f}",
        "leaked_by_category": " ".join(f"{k}={v}" for k, v in sorted(Counter(h.category for h in leaked.values()).items())),
        "leaked_by_area": " ".join(f"{k}={v}" for k, v in sorted(by_area.items())),
        "burned_in_readable": len(readable), "burned_in_planted": len({t.text for t in burned}),
        "files_per_s": f"{len(corpus.files) / seconds:.1f}",
        "_hits": sorted(leaked.values(), key=lambda h: (h.category, h.location)),
    }


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--files", type=int, default=20)
    options.add_argument("--seed", type=int, default=0)
    options.add_argument("--keep", type=Path, help="work folder to keep (default: a temporary one)")
    options.add_argument("--details", action="store_true", help="print every leaked token and where")
    args = options.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.keep or Path(scratch)
        corpus = make_corpus(work / "corpus", args.files, args.seed)
        planted = {t.text for t in corpus.tokens}
        print(f"{len(corpus.files)} files, {len(planted)} distinct planted tokens "
              f"(min {min(len({t.text for t in f.tokens}) for f in corpus.files)} per file)")
        tools = {
            "dicognito 0.19.0 (defaults)": _dicognito,
            "deid 0.4.13 (default recipe)": lambda c, o: _deid(c, o, remove_private=False),
            "deid 0.4.13 (remove_private=True)": lambda c, o: _deid(c, o, remove_private=True),
            "neovert deid+strip": _neovert,
        }
        rows = []
        for index, (tool, run) in enumerate(tools.items()):
            try:
                rows.append(measure(tool, run, corpus, work / f"out{index}"))
            except Exception as error:  # one broken tool must not hide the others' numbers
                print(f"{tool}: FAILED: {type(error).__name__}: {error}", file=sys.stderr)
                rows.append({"tool": tool, "files_in": len(corpus.files), "leaked_tokens": "failed", "_hits": []})
    target = REPO / "benchmarks" / "deid_anchors.tsv"
    target.parent.mkdir(exist_ok=True)
    with target.open("w", newline="") as handle:
        table = csv.DictWriter(handle, COLUMNS, delimiter="\t", extrasaction="ignore", lineterminator="\n")
        table.writeheader()
        table.writerows(rows)
    print(target.read_text())
    if args.details:
        for row in rows:
            for hit in row["_hits"]:
                print(f"{row['tool']}\t{hit.category}\t{hit.token}\t{hit.location}\t{hit.encoding}\t{Path(hit.file).name}")


if __name__ == "__main__":
    main()
