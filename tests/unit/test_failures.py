"""neovert.failures on Snakemake's own error blocks (format of Snakemake 9.27, as printed)."""

from neovert.failures import failed_jobs

MAIN_LOG = """\
[Tue Nov 24 20:46:51 2026]
Error in rule strip_hospital:
    message: None
    jobid: 12
    output: results/strip/H07/manifest.tsv
    log: logs/strip/H07/strip_hospital.log (check log file(s) for error details)
Error in rule nnunet_train:
    jobid: 3
    log: logs/nnunet/nnunet_train.log, /w/.snakemake/slurm_logs/rule_nnunet_train/17.log (check log file(s) for error details)
Exiting because a job execution failed. Look above for error messages
"""


def test_failed_jobs_by_stage_and_hospital_with_the_logs_last_error(tmp_path):
    (tmp_path / "main.log").write_text(MAIN_LOG)
    strip_log = tmp_path / "logs" / "strip" / "H07" / "strip_hospital.log"
    strip_log.parent.mkdir(parents=True)
    strip_log.write_text("INFO start\nTraceback (most recent call last):\nOSError: [Errno 28] No space left on device\nINFO bye\n")
    table = failed_jobs([tmp_path / "main.log"], tmp_path)
    assert table.values.tolist() == [
        ["strip", "H07", "strip_hospital", "logs/strip/H07/strip_hospital.log", "OSError: [Errno 28] No space left on device"],
        ["nnunet", "all", "nnunet_train", "logs/nnunet/nnunet_train.log", "the job wrote no log (killed before it started?)"],
    ]
