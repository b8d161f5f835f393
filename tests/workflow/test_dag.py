"""The DAG as a user sees it: dry-run job list, lint, single-stage and single-hospital targets."""

import re

from .conftest import snakemake, write_config

STAGE_RULES = ["synth", "deid_hospital", "strip_hospital", "rasterize_hospital", "split", "nnunet_export",
               "nnunet_preprocess", "nnunet_train", "predict_hospital", "postprocess_hospital",
               "evaluate_hospital", "evaluate_tables", "report_html"]


def job_counts(output: str) -> dict[str, int]:
    """Parse the 'Job stats' table of a dry run."""
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", output, re.M)}


def test_dry_run_lists_every_stage_per_hospital(workdir):
    write_config(workdir)
    counts = job_counts(snakemake(workdir, "-n").stdout)
    assert all(rule in counts for rule in STAGE_RULES), counts
    for rule in ("deid_hospital", "strip_hospital", "rasterize_hospital", "predict_hospital", "evaluate_hospital"):
        assert counts[rule] == 11
    assert counts["nnunet_train"] == 1 and counts["split"] == 1


def test_one_hospitals_output_of_one_stage_builds_only_its_inputs(workdir):
    write_config(workdir)
    counts = job_counts(snakemake(workdir, "-n", "results/strip/H03/manifest.tsv").stdout)
    assert counts == {"synth": 1, "deid_hospital": 1, "strip_hospital": 1, "total": 3}


def test_lint_is_clean():
    from .conftest import REPO

    result = snakemake(REPO, "--lint", check=False)
    assert result.returncode == 0 and "Lints for" not in result.stdout + result.stderr, result.stdout + result.stderr
