"""`snakemake --profile slurm` on a real one-node SLURM cluster (tests/slurm/start-slurm.sh).

The demo chain runs on a tiny two-hospital cohort through the real profile (slurm/) with the test
box's site settings layered on top (tests/slurm/profile/). Checks, in order (later runs rely on
the results of the first): every stage's jobs ran as SLURM jobs, the training job got a GPU, a
no-op rerun submits nothing, a failing job fails the run and shows its log, and a forced rerun
of one stage submits only that stage's jobs. Needs root (it installs and starts SLURM); about
6 minutes on 2 cores."""

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from ..unit.test_nnunet_resume import epochs_run
from .conftest import REPO, snakemake_call, write_config
from .test_end_to_end import TINY

pytestmark = pytest.mark.slurm
BOX = REPO / "tests" / "slurm"
HOSPITALS = ["H01", "H02"]
# every rule of the chain that runs as a SLURM job, with its number of jobs for two hospitals
SLURM_JOBS = {"synth": 1, "deid_hospital": 2, "strip_hospital": 2, "rasterize_hospital": 2, "nnunet_export": 1,
              "nnunet_preprocess": 1, "nnunet_train": 1, "predict_hospital": 2, "postprocess_hospital": 2,
              "evaluate_hospital": 2}
LOCAL_RULES = ("split", "evaluate_tables", "report_html")  # `localrule: True`: run in Snakemake itself


def _box_running() -> bool:
    """slurmctld from start-slurm.sh is running (its pidfile names a live slurmctld, not a zombie)."""
    try:
        proc = Path("/proc") / Path("/tmp/neovert-slurm/run/slurmctld.pid").read_text().strip()
        return (proc / "comm").read_text().strip() == "slurmctld" and "\tZ" not in (proc / "status").read_text()
    except OSError:
        return False


@pytest.fixture(scope="module")
def slurm_box():
    """Start the SLURM box for this module and stop it afterwards, unless it was already up."""
    reason = None
    if os.geteuid() != 0:
        reason = "needs root: start-slurm.sh installs SLURM with apt and starts its daemons"
    elif not (shutil.which("slurmctld") or shutil.which("apt-get")):
        reason = "SLURM is not installed and apt-get is not available to install it"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the SLURM tests must run in CI: {reason}")
        pytest.skip(reason)
    was_running = _box_running()
    started = subprocess.run(["bash", str(BOX / "start-slurm.sh")], capture_output=True, text=True, timeout=600)
    assert started.returncode == 0, f"start-slurm.sh failed:\n{started.stdout}\n{started.stderr}"
    yield
    if not was_running:
        subprocess.run(["bash", str(BOX / "stop-slurm.sh")], capture_output=True, text=True, timeout=120)


class Run:
    """One `snakemake --profile slurm` run: its output and the SLURM jobs it submitted."""

    def __init__(self, workdir: Path, returncode: int, output: str):
        self.workdir, self.returncode, self.output = workdir, returncode, output
        self.run_ids = re.findall(r"SLURM run ID: (\S+)", output)
        # (job id, rule, wildcards, state) from squeue, which keeps finished jobs for 10 minutes (MinJobAge)
        self.jobs = []
        for run_id in self.run_ids:
            listing = subprocess.run(["squeue", "-t", "all", "-h", "-n", run_id, "-o", "%i|%k|%T"],
                                     capture_output=True, text=True, check=True).stdout
            for line in listing.splitlines():
                job_id, comment, state = line.strip().split("|")
                rule, wildcards = re.fullmatch(r"rule_(.+?)(?:_wildcards_(.*))?", comment.strip()).groups()
                self.jobs.append((job_id, rule, wildcards, state))
        self.submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", output)

    def count(self) -> Counter:
        return Counter(rule for _, rule, _, _ in self.jobs)

    def slurm_log(self, job_id: str) -> Path:
        """The plugin's log of one job: .snakemake/slurm_logs/rule_<rule>/[<wildcards>/]<job id>.log."""
        (path,) = (self.workdir / ".snakemake" / "slurm_logs").glob(f"rule_*/**/{job_id}.log")
        return path


def snakemake_slurm(workdir: Path, *args: str, timeout: int = 300) -> Run:
    """`snakemake --profile slurm --profile tests/slurm/profile` in `workdir`, like conftest's `snakemake`.

    Past `timeout` seconds it gets SIGINT first, on which Snakemake scancels its SLURM jobs and
    exits (SIGTERM would leave it waiting for them), then SIGKILL for its process group, and the
    jobs of its run are cancelled by name; the test then fails with the output."""
    command, env = snakemake_call(workdir, "--profile", str(REPO / "slurm"), "--profile", str(BOX / "profile"), *args)
    with subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, start_new_session=True) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
            try:
                output, _ = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                output, _ = process.communicate()
            for run_id in re.findall(r"SLURM run ID: (\S+)", output):
                subprocess.run(["scancel", "--name", run_id], check=False)
            raise AssertionError(f"snakemake {' '.join(args)} ran past {timeout} s:\n{output[-12000:]}")
    return Run(workdir, process.returncode, output)


@pytest.fixture(scope="module")
def chain(slurm_box, tmp_path_factory) -> Run:
    """The whole demo chain, two hospitals, every non-local job through SLURM."""
    from neovert.pseudonym import create_key

    workdir = tmp_path_factory.mktemp("slurm")
    create_key(workdir / "secrets" / "pseudonym.key")
    write_config(workdir, cohort={"hospitals": HOSPITALS}, **TINY)
    run = snakemake_slurm(workdir, timeout=600)
    assert run.returncode == 0, run.output[-12000:]
    return run


def test_every_stage_ran_as_slurm_jobs(chain):
    assert chain.count() == SLURM_JOBS, chain.jobs
    assert all(state == "COMPLETED" for *_, state in chain.jobs), chain.jobs
    assert sorted(chain.submitted) == sorted(job_id for job_id, *_ in chain.jobs)
    for job_id, rule, wildcards, _ in chain.jobs:
        log = chain.slurm_log(job_id)  # kept for successful jobs too (slurm-keep-successful-logs)
        assert log.parent.relative_to(chain.workdir / ".snakemake" / "slurm_logs").parts[0] == f"rule_{rule}"
        assert f"rule {rule}:" in log.read_text()
    for rule in LOCAL_RULES:
        assert f"localrule {rule}:" in chain.output
    assert (chain.workdir / "results" / "report" / "report.html").exists()


def test_training_job_got_a_gpu(chain):
    """SLURM gave the training job (set-resources gpu: 1) a GPU and no other job one.

    The box's TaskProlog (tests/slurm/task-prolog.sh) writes each task's CUDA_VISIBLE_DEVICES, as
    SLURM set it, into the job's log: for the batch script and for step 0, the `srun` in which the
    rule runs. The workflow's own code is not involved."""
    for job_id, rule, _, _ in chain.jobs:
        lines = re.findall(r"neovert-slurm-box: job \d+ step (\S+) CUDA_VISIBLE_DEVICES=(\S+)",
                           chain.slurm_log(job_id).read_text())
        expected = "0" if rule == "nnunet_train" else "unset"
        assert dict(lines) == {"batch": expected, "0": expected}, (rule, lines)
    (train,) = [job_id for job_id, rule, _, _ in chain.jobs if rule == "nnunet_train"]
    details = subprocess.run(["scontrol", "show", "job", train], capture_output=True, text=True, check=True).stdout
    assert "TresPerJob=gres:gpu:1" in details, details


def test_nothing_to_do_submits_nothing(chain):
    run = snakemake_slurm(chain.workdir)
    assert run.returncode == 0 and "Nothing to be done" in run.output, run.output[-4000:]
    assert run.jobs == [] and run.submitted == []


def test_a_failing_job_fails_the_run_and_shows_its_log(chain):
    """One hospital's test case loses its ground truth: its evaluate job exits non-zero."""
    labels = chain.workdir / "results" / "rasterize" / "H02" / "labels"
    split = (chain.workdir / "results" / "split" / "split.tsv").read_text().splitlines()
    case = next(line.split("\t")[0] for line in split if line.startswith("H02_") and line.endswith("\ttest"))
    (labels / f"{case}.nii.gz").rename(chain.workdir / "moved-away.nii.gz")
    try:
        run = snakemake_slurm(chain.workdir, "evaluate", "--forcerun", "evaluate_hospital")
    finally:
        (chain.workdir / "moved-away.nii.gz").rename(labels / f"{case}.nii.gz")
    assert run.returncode != 0, run.output[-4000:]
    states = {wildcards: state for _, rule, wildcards, state in run.jobs if rule == "evaluate_hospital"}
    assert states == {"H01": "COMPLETED", "H02": "FAILED"}, run.jobs
    assert run.count() == {"evaluate_hospital": 2}
    assert re.search(r"SLURM-job '\d+' failed, SLURM status is: 'FAILED'", run.output), run.output[-4000:]
    assert "Error in rule evaluate_hospital" in run.output
    # show-failed-logs: the rule's log, with the error naming the case, is in Snakemake's output
    rule_log = (chain.workdir / "logs" / "evaluate" / "H02" / "evaluate_hospital.log").read_text()
    error = next(line for line in reversed(rule_log.splitlines()) if line.startswith("ValueError: "))
    assert case in error and error in run.output, (error, run.output[-4000:])
    assert "Logfile logs/evaluate/H02/evaluate_hospital.log:" in run.output
    assert "localrule evaluate_tables:" not in run.output


def test_forcerun_of_one_stage_submits_only_its_jobs(chain):
    run = snakemake_slurm(chain.workdir, "rasterize", "--forcerun", "rasterize_hospital")
    assert run.returncode == 0, run.output[-4000:]
    assert run.count() == {"rasterize_hospital": 2}, run.jobs
    assert {wildcards for *_, wildcards, _ in run.jobs} == set(HOSPITALS)
    # split is a local rule: it reruns in Snakemake itself and submits nothing
    run = snakemake_slurm(chain.workdir, "split", "--forcerun", "split")
    assert run.returncode == 0, run.output[-4000:]
    assert "localrule split:" in run.output and run.jobs == [] and run.submitted == []


def test_a_cancelled_training_is_retried_and_resumes(chain):
    """scancel the training job mid-way, as a preemption or walltime kill does: Snakemake retries
    it (`retries` of nnunet_train) and the retry continues nnU-Net's epoch counter from
    checkpoint_latest.pth instead of starting again. Runs last: it retrains with a longer budget."""
    budget = {"epochs": 4, "iterations": 2, "val_iterations": 1}
    write_config(chain.workdir, cohort={"hospitals": HOSPITALS}, **{**TINY, "nnunet": {"setups": {"demo": {"budget": budget}}}})
    fold = next((chain.workdir / "results" / "nnunet" / "trained").glob("*/*/fold_0"))
    done: dict = {}
    runner = threading.Thread(target=lambda: done.update(run=snakemake_slurm(chain.workdir, "nnunet", timeout=900)))
    runner.start()
    deadline = time.monotonic() + 600
    while not any(2 in epochs for epochs in epochs_run(fold)):  # epoch 2 starts once epoch 1 is checkpointed
        assert runner.is_alive() and time.monotonic() < deadline, "training ended or hung before epoch 2"
        time.sleep(0.5)
    running = subprocess.run(["squeue", "-h", "-t", "running", "-o", "%i|%k"], capture_output=True, text=True,
                             check=True).stdout.split()
    (job_id,) = [line.split("|")[0] for line in running if line.endswith("|rule_nnunet_train")]
    subprocess.run(["scancel", job_id], check=True)
    runner.join()
    run = done["run"]
    assert run.returncode == 0, run.output[-6000:]
    assert sorted(state for _, rule, _, state in run.jobs if rule == "nnunet_train") == ["CANCELLED", "COMPLETED"]
    first, retry = epochs_run(fold)
    assert first[:3] == [0, 1, 2] and retry[0] >= 1 and retry[-1] == budget["epochs"] - 1, (first, retry)
    assert "resuming from" in (chain.workdir / "logs" / "nnunet" / "nnunet_train.log").read_text()

