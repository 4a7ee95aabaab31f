"""Train a spec for one task, in phases: set-up, epochs (steps, evaluation, checkpoint), finish.

The study's recipe: Adam, cross-entropy, a fixed number of epochs, the best model chosen by
validation accuracy. Images live in memory as uint8 and are normalised per batch on the device.
Each epoch's order comes from a DistributedSampler (seeded by seed + epoch), which also gives each
process its share under torchrun. Ctrl-C stops after the batch in progress and saves the exact
position into last.pt, so `--resume` continues as if the run had never stopped.

Nothing in a step waits for the GPU: losses and correct counts are added up on the device and
read once an epoch, and checkpoints are written by a background thread from a snapshot.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from archspec.errors import UserError
from archspec.spec import load_spec
from runner.training.checkpoint import (
    Checkpoint,
    find_checkpoint,
    load_checkpoint,
)
from runner.training.config import TrainConfig
from runner.training.device import (
    deterministic,
    pick_device,
)
from runner.training.distributed import World
from runner.training.epoch import StepHook, evaluate_epoch, train_epoch
from runner.training.finish import finish_or_hint
from runner.training.resume import resumed_config
from runner.training.run_state import Training
from runner.training.rundir import RunDir
from runner.training.saving import checkpoint_epoch, writes_reported
from runner.training.setup import check_resumable, set_up
from runner.training.stop import StopRequest


def train_run(
    config: TrainConfig,
    resume: Path | None = None,
    *,
    progress: bool = True,
    on_step: StepHook | None = None,
    given: Collection[str] | None = None,
    tensorboard: bool = False,
) -> Path:
    """Train `config.spec` for `config.task`; return the run directory.

    With `resume` (a run directory), continue from its last.pt with the run's own settings;
    `config.epochs` may extend it. `given` names the settings the user set explicitly: with
    `resume`, one that differs from the run's is refused (None: no check, as for a sweep).
    `tensorboard`: also log to <run>/tensorboard/.
    """
    spec = load_spec(config.spec, config.spec_set)
    checkpoint = None
    if resume is not None:
        checkpoint = load_checkpoint(find_checkpoint(resume, "last.pt"))
        check_resumable(spec, config, checkpoint, Path(resume))
        config = resumed_config(Path(resume), checkpoint.config, config, given)
        if _nothing_to_do(checkpoint, config):
            return checkpoint.path.parent
    world = World.from_environment()
    device = world.device_for(pick_device(config.device))
    world.start(device)
    try:
        with deterministic(config.deterministic), StopRequest() as stop:
            t = set_up(spec, config, checkpoint, world, device, progress and world.is_main)
            board = _tensorboard(t.run.path if tensorboard and world.is_main else None)
            with writes_reported(t), board:
                _train_epochs(t, stop, progress and world.is_main, on_step, board)
                if world.is_main:
                    finish_or_hint(t, stop)
                    board.finish(t.config.to_data(), t.run.read_summary())
        return t.run.path if world.is_main else Path(config.out)
    finally:
        world.stop()


def _nothing_to_do(checkpoint: Checkpoint, config: TrainConfig) -> bool:
    """A finished run asked for no more epochs: say so before any image is decoded."""
    run, done = RunDir(checkpoint.path.parent), checkpoint.epoch
    if config.epochs < done:
        raise UserError(
            f"{run.path} has trained {done} epochs: --epochs {config.epochs} cannot shorten it; "
            f"give --epochs {done + 1} or more to extend it"
        )
    if done == config.epochs and run.finished and not checkpoint.state.get("position"):
        if World.from_environment().is_main:
            print(
                f"{run.path} has finished its {done} epochs: nothing to do "
                f"(give --epochs {done + 1} or more to train it further)"
            )
        return True
    return False


def _train_epochs(
    t: Training, stop: StopRequest, progress: bool, on_step: StepHook | None, board: Any
) -> None:
    """Every remaining epoch: steps, evaluation, checkpoint, and the TensorBoard log."""
    for epoch in range(t.start_epoch, t.config.epochs):
        sums = train_epoch(t, epoch, stop, progress, on_step)
        row, val_accuracy = evaluate_epoch(t, epoch, sums)
        checkpoint_epoch(t, epoch, row, val_accuracy)
        board.epoch(row, t.model, is_best=t.best["best_epoch"] == epoch + 1)


def _tensorboard(run_dir: Path | None) -> Any:
    from runner.training.tensorboard import tensorboard_log  # tensorboard is an optional extra

    return tensorboard_log(run_dir)
