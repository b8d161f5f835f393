"""After a failed run: which stage failed for which hospital, and why, in one table.

With `--keep-going` (the default profile) one hospital's bad delivery fails only its own jobs and
what depends on them; the other hospitals go on. Snakemake's own log then holds an "Error in
rule ..." block per failed job, spread over thousands of lines. This module reads those blocks,
finds each job's log (logs/<stage>/<hospital>/<rule>.log, or logs/<stage>/<rule>.log for
cohort-wide rules) and takes its last error line as the reason. Reasons come from neovert's own
messages, which name files by case id or relative path only, so the table holds no PHI.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from neovert.io import write_tsv

COLUMNS = ["stage", "hospital", "rule", "log", "reason"]
_BLOCK = re.compile(r"^Error in rule (\w+):\n((?:[ \t]+.*\n?)*)", re.MULTILINE)
_LOG = re.compile(r"^\s+log: ([^\s,]+)", re.MULTILINE)  # the rule's log; under SLURM the job log follows
_ERROR = re.compile(r"\b\w*(Error|Exception|Interrupt)\b|\bfailed\b|\bKilled\b")


def failed_jobs(snakemake_logs: list[Path], workdir: Path) -> pd.DataFrame:
    """One row per failed job found in Snakemake's log(s), in the order they failed."""
    rows = []
    for main_log in snakemake_logs:
        for rule, body in _BLOCK.findall(Path(main_log).read_text(errors="replace")):
            found = _LOG.search(body)
            log = found.group(1) if found else ""
            parts = Path(log).parts
            rows.append({
                "stage": parts[1] if len(parts) > 2 else rule,
                "hospital": parts[2] if len(parts) == 4 else "all",
                "rule": rule,
                "log": log,
                "reason": reason(workdir / log) if log else "no log (see Snakemake's output)",
            })
    return pd.DataFrame(rows, columns=COLUMNS).drop_duplicates()


def reason(job_log: Path) -> str:
    """The last line of a job's log that names an error, else its last line."""
    if not job_log.is_file():
        return "the job wrote no log (killed before it started?)"
    lines = [line.strip() for line in job_log.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if _ERROR.search(line)]
    return (errors or lines or ["empty log"])[-1][:300]


def write_summary(snakemake_logs: list[Path], workdir: Path, out: Path) -> pd.DataFrame:
    """Write `out` (TSV) and return the table, for Snakemake's `onerror` handler."""
    table = failed_jobs(snakemake_logs, workdir)
    write_tsv(table, out)
    return table
