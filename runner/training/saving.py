"""Checkpoints during training: last.pt and best.pt written from a snapshot by a background
thread, and a failed write (a full disk) reported with what to do.
"""

from __future__ import annotations

import contextlib
import errno
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from archspec.errors import UserError
from runner.training.checkpoint import (
    save_checkpoint,
)
from runner.training.checkpoint_writer import snapshot, snapshot_ready, to_cpu
from runner.training.run_state import Training


@contextlib.contextmanager
def timed_checkpoint(t: Training) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        t.checkpoint_seconds += time.perf_counter() - started


def checkpoint_epoch(t: Training, epoch: int, row: dict[str, Any], val_accuracy: float) -> None:
    """Record the epoch: metrics.csv now; best.pt and last.pt in the background, when due and
    no write is in flight (best.pt's weights are kept until then)."""
    t.schedule.step()  # the next epoch's learning rate, saved with last.pt
    t.rows.append(row)
    improved = val_accuracy > t.best["best_accuracy"]
    if improved:
        t.best.update(best_accuracy=val_accuracy, best_epoch=epoch + 1)
    if not t.world.is_main:
        return
    with timed_checkpoint(t):
        if improved:
            t.best_weights = t.best_state = snapshot(t.model.state_dict())
        t.run.write_metrics(t.rows)
        due = (epoch + 1) % t.config.checkpoint_every == 0
        if due and not t.writer.busy:
            save_in_background(t, epoch + 1)


def save_now(t: Training, epoch: int, position: dict[str, Any] | None = None) -> None:
    """Write last.pt (and a pending best.pt) for `epoch` and wait until it is on disk."""
    with timed_checkpoint(t):
        t.writer.wait()
        if t.saved_epoch != epoch or position is not None or t.best_weights is not None:
            save_in_background(t, epoch, position)
            t.writer.wait()


def save_in_background(t: Training, epoch: int, position: dict[str, Any] | None = None) -> None:
    """Snapshot the state now; write best.pt (if it improved), then last.pt, in the writer.

    best.pt goes first: should the process die between the two, last.pt still names the
    previous best, and the resumed run rewrites best.pt when it gets there again.
    """
    best, t.best_weights = t.best_weights, None
    state = {
        **t.best,
        "optimizer": snapshot(t.optimizer.state_dict()),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if t.device.type == "cuda" else [],
        "scaler": t.scaler.state_dict() if t.scaler is not None else None,
        "schedule": t.schedule.state_dict(),
        "augment": t.augmenter.state_dict(),
        "position": position,
    }
    last = snapshot(t.model.state_dict())
    best_state, ready = dict(t.best), snapshot_ready()

    def write() -> None:
        if best is not None:
            weights = to_cpu(best, ready, t.writer.pinned, "best")
            _write(t, t.run.best, weights, best_state["best_epoch"], best_state)
        last_cpu = to_cpu(last, ready, t.writer.pinned, "last")
        _write(t, t.run.last, last_cpu, epoch, to_cpu(state, ready, t.writer.pinned, "state"))
        t.saved_epoch = epoch

    t.writer.submit(write)


def _write(
    t: Training, path: Path, weights: dict[str, torch.Tensor], epoch: int, state: dict[str, Any]
) -> None:
    """last.pt resumes training; best.pt is for evaluation, so it skips the optimizer
    (two thirds of the file with Adam's two moments per weight)."""
    save_checkpoint(
        path,
        spec=t.spec,
        task=t.config.task,
        labels=t.data.labels,
        model_state=weights,
        config=t.config.to_data(),
        epoch=epoch,
        state=state,
    )


def wait_quietly(t: Training) -> None:
    """Let the write in flight finish (it holds a consistent state); its error is reported
    by whoever waits next, not here, while another error is on its way out."""
    with contextlib.suppress(Exception):
        t.writer.wait()


@contextlib.contextmanager
def writes_reported(t: Training) -> Iterator[None]:
    """A write that fails in the epochs (here or in the writer thread) stops the run with a
    message saying what is kept and how to go on, not a traceback."""
    try:
        yield
    except BaseException as error:
        if t.world.is_main:
            wait_quietly(t)
        if isinstance(error, OSError) and t.run is not None:
            raise _write_failure(t, error) from None
        raise


def _write_failure(t: Training, error: OSError) -> UserError:
    full = error.errno in (errno.ENOSPC, errno.EDQUOT)
    what = "the disk is full" if full else f"cannot write ({error.strerror or error})"
    kept = (
        f"{t.run.last} still holds the run after epoch {t.saved_epoch}"
        if t.saved_epoch is not None
        else "no checkpoint was written yet"
    )
    todo = "free some space" if full else "fix that"
    then = f"continue with: {t.resume_command}" if t.saved_epoch is not None else "start again"
    return UserError(f"{what} in {t.run.path}: {kept}. {todo.capitalize()}, then {then}")
