"""Command line shared by the benchmarks that plan a cohort without drawing it."""

import argparse


def cohort_args(doc: str) -> argparse.Namespace:
    """--scale (default 1.0: the paper's 14,660 images) and --seed (default 102, the paper's)."""
    options = argparse.ArgumentParser(description=doc.splitlines()[0])
    options.add_argument("--scale", type=float, default=1.0)
    options.add_argument("--seed", type=int, default=102)
    return options.parse_args()
