"""Launchers: a sweep spread over local processes or submitit jobs ends as a sweep run here
would; the run-directory lock keeps two sweeps on one --out from training a run twice.

Real training of a tiny spec on tiny data, in real processes: what a launcher adds is processes,
so only processes show whether it works.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from archspec_cli import main
from runner.data import write_synthetic
from runner.launch import Launch, RunLock, SlurmOptions, lock_path, slurm
from runner.launch.slurm import SlurmRun
from runner.study.sweep import run_sweep
from runner.training.checkpoint import load_checkpoint
from tests.runner.fault_injection import FaultySlurmRun
from tests.runner.helpers import SMALL_SPEC
from tests.runner.study_data import small_cache, small_embedded  # noqa: F401 (fixtures)

ROOT = Path(__file__).parents[2]
# The report's CKA runs on the validation images; here the small embedded set's 56.
pytestmark = pytest.mark.usefixtures("small_embedded")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_synthetic(root, seed=0, train_per_class=2, val_per_class=1, size=24)
    return root


@pytest.fixture
def spec(tmp_path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_SPEC)
    return path


def training(data: Path, epochs: int = 2) -> dict:
    return {"data": str(data), "epochs": epochs, "batch_size": 16, "workers": 1}


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "last.pt").model_state


def files(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if "logs" not in p.parts}


# ---- the lock -----------------------------------------------------------------------------------


def hold_lock(run: Path) -> subprocess.Popen:
    """Another process that takes the run's lock and keeps it until killed."""
    code = (
        "import sys, time; from runner.launch import RunLock; "
        f"RunLock(__import__('pathlib').Path({str(run)!r})).acquire(wait=True); "
        "print('held', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_a_lock_held_by_a_live_process_is_refused_and_a_dead_ones_is_taken(tmp_path):
    run = tmp_path / "out" / "small-domain"
    child = hold_lock(run)
    try:
        assert not RunLock(run).acquire(wait=False)
        assert RunLock(run).holder().startswith(f"pid {child.pid} on ")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert lock_path(run).is_file()  # left behind by the killed holder: stale
    lock = RunLock(run)
    assert lock.acquire(wait=False)
    assert lock.holder().startswith(f"pid {os.getpid()} ")
    lock.release()


# ---- local processes ----------------------------------------------------------------------------


def test_a_local_two_job_sweep_ends_as_a_sequential_one(tmp_path, spec, data):
    tasks = ["category", "domain"]
    here = run_sweep([spec], tasks, tmp_path / "seq", training(data), progress=False)
    spread = run_sweep(
        [spec], tasks, tmp_path / "par", training(data), launch=Launch("local", jobs=2)
    )
    assert here.report.is_file() and spread.report.is_file()
    assert files(tmp_path / "seq") == files(tmp_path / "par")
    for name in ("small-category", "small-domain"):
        a, b = weights(tmp_path / "seq" / name), weights(tmp_path / "par" / name)
        assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a), name
    assert (tmp_path / "par" / "logs" / "small-domain.log").read_text().count("[Epoch 2]") == 1

    def headings(out: Path) -> list[str]:
        return [line for line in (out / "report.md").read_text().splitlines() if line[:1] == "#"]

    assert headings(tmp_path / "seq") == headings(tmp_path / "par")


def test_a_failed_local_job_is_reported_with_its_log_and_the_others_go_on(tmp_path, data, capsys):
    # Seven outputs: right for the category task, wrong for the domain task's four domains.
    spec = tmp_path / "seven.yaml"
    spec.write_text(SMALL_SPEC.replace("out_features: num_classes", "out_features: 7"))
    out = tmp_path / "out"
    args = [str(spec), "--out", str(out), "--data", str(data), "--epochs", "1"]
    args += ["--batch-size", "16", "--launcher", "local", "--jobs", "2", "--quiet"]
    assert main(["sweep", *args]) == 2
    err = capsys.readouterr().err
    log = out / "logs" / "seven-domain.log"
    assert f"1 of 2 runs failed (the others went on):\n  seven-domain: see {log}" in err
    assert "4 classes" in log.read_text()  # the job's own error, in its log
    assert (out / "seven-category" / "summary.json").is_file()
    assert not (out / "report.md").exists()


# ---- submitit -----------------------------------------------------------------------------------

LOCAL_JOBS = SlurmOptions(cluster="local", gpus_per_job=0, time_min=10)


def test_a_submitit_sweep_trains_reports_and_resumes_a_killed_job(
    tmp_path, spec, data, monkeypatch
):
    out = tmp_path / "out"
    # The jobs pause after the first step of their second epoch, so the kill below always
    # finds the domain job mid-run (a fast machine could otherwise finish it first). The job
    # processes unpickle FaultySlurmRun from the tests, so they need the repository's root.
    monkeypatch.setattr(slurm, "SlurmRun", FaultySlurmRun)
    monkeypatch.setenv("ARCHSPEC_TEST_PAUSE_AT", "1,0")
    monkeypatch.setenv(
        "PYTHONPATH",
        os.pathsep.join(filter(None, [str(ROOT.resolve()), os.environ.get("PYTHONPATH")])),
    )
    settings = {**training(data, epochs=4), "batch_size": 8}  # 7 steps an epoch
    tasks = ["category", "domain"]
    launch = Launch("slurm", slurm=LOCAL_JOBS, wait=False)
    first = run_sweep([spec], tasks, out, settings, launch=launch)
    assert first.report is None  # --no-wait: submitted, not waited for
    run = out / "small-domain"
    deadline = time.monotonic() + 180
    while not (run / "last.pt").is_file():  # the job has saved its first epoch
        assert time.monotonic() < deadline, "the job never saved an epoch"
        time.sleep(0.05)
    pid = int(RunLock(run).holder().split()[1])  # the job's process, from the lock file
    os.kill(pid, signal.SIGKILL)
    lock = RunLock(run)
    while not lock.acquire(wait=False):  # the kernel frees the lock once the process is gone
        assert time.monotonic() < deadline, "the killed job still holds its lock"
        time.sleep(0.05)
    lock.release()
    epochs_done = load_checkpoint(run / "last.pt").epoch
    assert 1 <= epochs_done < 4 and not (run / "summary.json").exists()
    other = out / "small-category"  # paused too: killed the same way, resumed the same way
    while not (other / "last.pt").is_file():
        assert time.monotonic() < deadline, "the category job never saved an epoch"
        time.sleep(0.05)
    os.kill(int(RunLock(other).holder().split()[1]), signal.SIGKILL)
    other_lock = RunLock(other)
    while not other_lock.acquire(wait=False):
        assert time.monotonic() < deadline, "the killed category job still holds its lock"
        time.sleep(0.05)
    other_lock.release()
    monkeypatch.setattr(slurm, "SlurmRun", SlurmRun)  # no faults from here on
    monkeypatch.delenv("ARCHSPEC_TEST_PAUSE_AT")

    second = run_sweep([spec], tasks, out, settings, launch=Launch("slurm", slurm=LOCAL_JOBS))
    assert second.statuses == {"small-category": "resume", "small-domain": "resume"}
    assert second.report == out / "report.md" and second.report.is_file()
    assert yaml.safe_load((run / "summary.json").read_text())["epochs"] == 4
    metrics = (run / "metrics.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in metrics] == list(range(1, 5))
    assert list((out / "slurm").glob("*_log.out"))  # submitit's own logs


# ---- two sweeps at once -------------------------------------------------------------------------


def test_two_sweeps_at_once_on_one_out_never_train_a_run_twice(tmp_path, spec, data):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "archspec", "sweep", str(spec), "--out", str(out)]
    command += ["--data", str(data), "--epochs", "1", "--batch-size", "16", "--quiet"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    sweeps = [
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        for _ in range(2)
    ]
    outputs = [s.communicate(timeout=300)[0] for s in sweeps]
    assert [s.returncode for s in sweeps] == [0, 0], outputs
    both = "".join(outputs)
    for name in ("small-category", "small-domain"):
        assert both.count(f"run directory: {out / name}\n") == 1, both  # trained once, by one
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [
        "compare-small-category-vs-small-domain",
        "small-category",
        "small-domain",
    ]
    assert (out / "report.md").is_file()


# ---- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--launcher", "local", "--jobs", "0"], "--jobs must be at least 1, got 0"),
        (["--launcher", "local", "--devices", "cuda:7"], "--devices cuda:7: no such device here"),
        (["--devices", "tpu"], "--device tpu"),
        (["--partition", "gpu"], "--partition only go with --launcher slurm"),
        (["--jobs", "2", "--no-wait"], "--no-wait needs --launcher slurm"),
        (["--launcher", "slurm", "--time", "soon"], "--time soon: give minutes"),
        (["--launcher", "slurm", "--sbatch", "account"], "--sbatch account: give KEY=VALUE"),
    ],
)
def test_bad_launcher_flags_stop_before_anything_runs(tmp_path, spec, capsys, flags, message):
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_slurm_without_submitit_installed_is_a_clear_error(tmp_path, spec, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "submitit", None)  # `import submitit` now raises ImportError
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--launcher", "slurm"]) == 2
    err = capsys.readouterr().err
    assert "--launcher slurm needs submitit" in err and "archspec[slurm]" in err
    assert "Traceback" not in err and not out.exists()


def test_slurm_without_sbatch_is_refused_not_run_here(tmp_path, spec, capsys, monkeypatch):
    from runner.launch import slurm

    monkeypatch.setattr(slurm.shutil, "which", lambda name: None)  # a machine without SLURM
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--launcher", "slurm"]) == 2
    err = capsys.readouterr().err
    assert "sbatch is not on this machine's PATH" in err and "--launcher local" in err
    assert "Traceback" not in err and not (out / "slurm").exists()
