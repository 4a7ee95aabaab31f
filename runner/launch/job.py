"""One run of a sweep, trained under its run directory's lock: what every launcher executes,
in this process, in a local worker process, or in a cluster job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archspec.errors import UserError
from runner.launch.lock import RunLock
from runner.launch.status import PlannedRun, run_status
from runner.training.config import TrainConfig

BUSY = "busy"  # another process holds the run's lock


@dataclass(frozen=True)
class Job:
    """What a process needs to train one run; plain data, so it pickles into any launcher."""

    run: PlannedRun  # a study's SweepRun: plain data too
    config: TrainConfig
    tensorboard: bool = False  # also log to <run>/tensorboard/


def train_one(
    job: Job,
    *,
    wait: bool = True,
    progress: bool = False,
    train: Callable[..., Any] | None = None,
    say: Callable[[str], None] = print,
) -> str:
    """Train `job.run` to `job.config.epochs` unless it is finished; return what was done
    (new | resume | extend | finished), or BUSY when another process holds the lock and not
    `wait`. The status is read again under the lock: another sweep may have trained the run
    while this one waited."""
    if train is None:
        from runner.training.train import train_run as train
    lock = RunLock(job.run.path)
    if not lock.acquire(wait=False):
        if not wait:
            return BUSY
        say(f"{job.run.path}: {lock.holder()} is training it; waiting")
        lock.acquire(wait=True)
    try:
        status = run_status(job.run, job.config)
        if status == "finished":
            return status
        resume = None if status == "new" else job.run.path
        logging = {"tensorboard": True} if job.tensorboard else {}
        done = train(job.config, resume=resume, progress=progress, **logging)
        if Path(done).resolve() != job.run.path.resolve():  # train_run never overwrites a folder
            raise UserError(f"{job.run.name} was written to {done} instead of {job.run.path}")
        return status
    finally:
        lock.release()
