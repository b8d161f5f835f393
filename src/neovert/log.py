"""Logging set-up for stage runs: one format, to the rule's log file and the terminal.

Log lines carry case ids and counts only; stages never log header values or input file names
that could hold PHI.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup(log_file: str | Path | None = None, level: int = logging.INFO) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w", encoding="utf-8"))
    logging.basicConfig(level=level, format=FORMAT, handlers=handlers, force=True)
    sys.excepthook = _log_uncaught


def _log_uncaught(kind, error, trace) -> None:
    """A crash's traceback goes to the rule's log file too, where auditors look for it."""
    logging.getLogger("neovert").critical("uncaught exception", exc_info=(kind, error, trace))
