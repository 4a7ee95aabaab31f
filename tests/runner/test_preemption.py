"""A SLURM job that the scheduler signals saves its run, then lets submitit requeue it."""

from __future__ import annotations

import pickle
import signal

import pytest
import submitit

from runner.launch import slurm
from runner.training.stop import Preempted


def test_the_job_is_checkpointable_and_requeues_the_same_run() -> None:
    run = pickle.loads(pickle.dumps(slurm.SlurmRun()))  # what submitit pickles into the job
    delayed = run.checkpoint("the job")
    assert isinstance(delayed, submitit.helpers.DelayedSubmission)
    assert isinstance(delayed.function, slurm.SlurmRun) and delayed.args == ("the job",)


def test_the_signal_is_handed_on_to_submitit_after_last_pt_is_written(monkeypatch) -> None:
    def preempted(job, **kwargs):
        raise Preempted("SIGUSR2")  # what train raises once last.pt holds the position

    monkeypatch.setattr(slurm, "train_one", preempted)
    received = []
    previous = signal.signal(signal.SIGUSR2, lambda signum, frame: received.append(signum))
    try:
        with pytest.raises(Preempted):
            slurm.SlurmRun()("the job")
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert received == [signal.SIGUSR2]


def test_a_ctrl_c_is_not_handed_on(monkeypatch) -> None:
    def interrupted(job, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(slurm, "train_one", interrupted)
    received = []
    previous = signal.signal(signal.SIGUSR2, lambda signum, frame: received.append(signum))
    try:
        with pytest.raises(KeyboardInterrupt):
            slurm.SlurmRun()("the job")
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert received == []
