"""Real faults in a real `archspec train` process: kill -9, a full disk, Ctrl-C in a batch.

Each test starts `python -m tests.runner.faulty_archspec train`: archspec with the fault, set by
an environment variable of that process, in the training hooks (tests/runner/fault_injection.py).
It resumes, and compares the final weights, optimizer state and metrics with an uninterrupted
run, bit for bit.
"""

from __future__ import annotations

import csv
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from runner.data import write_synthetic
from runner.training.checkpoint import load_checkpoint
from tests.runner.fault_injection import pythonpath_with_repo
from tests.runner.helpers import SMALL_SPEC

TIMEOUT = 120  # seconds any one process may take on a busy 2-core machine


class Training:
    """A training subprocess whose output is read line by line as it comes."""

    def __init__(self, args: list[str], faults: dict[str, str] | None = None) -> None:
        path = pythonpath_with_repo()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.runner.faulty_archspec", "train", *args],
            env={**env, **(faults or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            self.output.append(line)
            if text in line:
                return
        self.process.kill()
        raise AssertionError(f"never printed {text!r}:\n{''.join(self.output)}")

    def finish(self) -> tuple[int, str]:
        code = self.process.wait(timeout=TIMEOUT)
        while (line := self.lines.get(timeout=TIMEOUT)) is not None:
            self.output.append(line)
        return code, "".join(self.output)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=TIMEOUT)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("faults")
    write_synthetic(root / "data", seed=4, train_per_class=2, val_per_class=1, size=24)
    (root / "small.yaml").write_text(SMALL_SPEC)
    return {"data": root / "data", "spec": root / "small.yaml", "root": root}


def train_args(setup: dict[str, Path], out: Path) -> list[str]:
    """56 training images in batches of 16: 4 steps an epoch, 2 epochs."""
    return [str(setup["spec"]), "--task", "domain", "--data", str(setup["data"]),
            "--epochs", "2", "--batch-size", "16", "--device", "cpu", "--workers", "1",
            "--memory-format", "contiguous", "--out", str(out), "--quiet"]  # fmt: skip


def resume(setup: dict[str, Path], run: Path) -> str:
    code, output = Training([str(setup["spec"]), "--resume", str(run), "--quiet"]).finish()
    assert code == 0, output
    return output


@pytest.fixture(scope="module")
def uninterrupted(setup: dict[str, Path]) -> Path:
    code, output = Training(train_args(setup, setup["root"] / "whole")).finish()
    assert code == 0, output
    return setup["root"] / "whole" / "small-domain"


def metrics(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as f:
        timing = ("seconds", "images_per_second")
        return [{k: v for k, v in r.items() if k not in timing} for r in csv.DictReader(f)]


def assert_same_run(a: Path, b: Path) -> None:
    """Final weights, Adam's moments, best.pt and metrics identical, bit for bit."""
    for name in ("last.pt", "best.pt"):
        x, y = load_checkpoint(a / name), load_checkpoint(b / name)
        assert x.epoch == y.epoch, name
        for key in x.model_state:
            assert torch.equal(x.model_state[key], y.model_state[key]), (name, key)
    x, y = load_checkpoint(a / "last.pt").state, load_checkpoint(b / "last.pt").state
    for i, moments in x["optimizer"]["state"].items():
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(moments[key], y["optimizer"]["state"][i][key])
    assert metrics(a) == metrics(b)
    assert (b / "summary.json").is_file()


def wait_for_checkpoint(path: Path, epoch: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if path.is_file() and load_checkpoint(path).epoch == epoch:
            return
        time.sleep(0.2)
    raise AssertionError(f"{path} never reached epoch {epoch}")


def test_kill_9_during_an_epoch_then_resume_is_exact(setup, uninterrupted, tmp_path):
    training = Training(train_args(setup, tmp_path), {"ARCHSPEC_TEST_PAUSE_AT": "1,2"})
    training.wait_for("paused")  # in the middle of the second epoch
    run = tmp_path / "small-domain"
    wait_for_checkpoint(run / "last.pt", 1)  # the first epoch's, written in the background
    training.kill()
    assert not (run / "summary.json").exists()
    assert "resuming" in resume(setup, run)
    assert_same_run(uninterrupted, run)


def test_kill_9_during_a_checkpoint_write_keeps_the_previous_files(setup, uninterrupted, tmp_path):
    training = Training(train_args(setup, tmp_path), {"ARCHSPEC_TEST_HOLD_SAVE": "last.pt,2"})
    training.wait_for("holding last.pt")  # the second epoch's last.pt is half written
    training.kill()
    run = tmp_path / "small-domain"
    assert list(run.glob(".last.pt.*.tmp")), "the kill should have caught a write in progress"
    assert load_checkpoint(run / "last.pt").epoch == 1  # the old file, whole
    assert load_checkpoint(run / "best.pt").epoch in (1, 2)  # old or new, whole
    resume(setup, run)
    assert not list(run.glob(".*.tmp"))  # the partial write was cleared away
    assert_same_run(uninterrupted, run)


def test_a_full_disk_stops_with_a_message_and_keeps_the_previous_files(
    setup, uninterrupted, tmp_path
):
    training = Training(train_args(setup, tmp_path), {"ARCHSPEC_TEST_ENOSPC": "last.pt,2"})
    code, output = training.finish()
    run = tmp_path / "small-domain"
    assert code == 2, output
    assert "Traceback" not in output
    assert "the disk is full" in output and "after epoch 1" in output
    assert f"--resume {run}" in output
    assert load_checkpoint(run / "last.pt").epoch == 1
    assert not list(run.glob(".*.tmp"))
    resume(setup, run)
    assert_same_run(uninterrupted, run)


def test_ctrl_c_in_the_middle_of_a_batch_finishes_it_and_resumes_exactly(
    setup, uninterrupted, tmp_path
):
    training = Training(train_args(setup, tmp_path), {"ARCHSPEC_TEST_SIGINT_AT": "1,2,1"})
    code, output = training.finish()
    run = tmp_path / "small-domain"
    assert code == 130, output
    assert "stopping after this batch" in output and f"--resume {run}" in output
    saved = load_checkpoint(run / "last.pt")
    assert saved.epoch == 1 and saved.state["position"]["batch"] == 3  # batch 2 finished
    resume(setup, run)
    assert_same_run(uninterrupted, run)


def test_a_second_ctrl_c_stops_at_once_and_last_pt_still_resumes(setup, uninterrupted, tmp_path):
    training = Training(train_args(setup, tmp_path), {"ARCHSPEC_TEST_SIGINT_AT": "1,2,2"})
    code, output = training.finish()
    run = tmp_path / "small-domain"
    assert code == 130, output
    assert "stopped at once" in output and f"--resume {run}" in output
    saved = load_checkpoint(run / "last.pt")
    assert saved.epoch == 1 and saved.state["position"] is None  # batch 2 never finished
    resume(setup, run)
    assert_same_run(uninterrupted, run)


def test_ctrl_c_as_the_last_epoch_ends_finishes_the_run(setup, uninterrupted, tmp_path):
    training = Training(train_args(setup, tmp_path), {"ARCHSPEC_TEST_SIGINT_AT": "finish,1"})
    code, output = training.finish()
    assert code == 0, output
    assert_same_run(uninterrupted, tmp_path / "small-domain")


def test_two_ctrl_c_as_the_last_epoch_ends_leave_a_resume_hint_that_works(
    setup, uninterrupted, tmp_path
):
    training = Training(train_args(setup, tmp_path), {"ARCHSPEC_TEST_SIGINT_AT": "finish,2"})
    code, output = training.finish()
    run = tmp_path / "small-domain"
    assert code == 130, output
    assert f"--resume {run}" in output and not (run / "summary.json").exists()
    resume(setup, run)
    assert_same_run(uninterrupted, run)


@pytest.mark.parametrize("name", ["TERM", "USR2"])
def test_a_scheduler_s_signal_saves_the_position_and_exits_143(
    setup, uninterrupted, tmp_path, name
):
    training = Training(train_args(setup, tmp_path), {"ARCHSPEC_TEST_SIGNAL_AT": f"1,2,{name}"})
    code, output = training.finish()
    run = tmp_path / "small-domain"
    assert code == 143, output
    assert f"SIG{name}: saving a checkpoint after this batch" in output
    assert f"stopped by SIG{name}" in output and f"--resume {run}" in output
    assert "Traceback" not in output
    saved = load_checkpoint(run / "last.pt")
    assert saved.epoch == 1 and saved.state["position"]["batch"] == 3  # batch 2 finished
    resume(setup, run)
    assert_same_run(uninterrupted, run)
