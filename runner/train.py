"""Train a spec for one task, in phases: set-up, epochs (steps, evaluation, checkpoint), finish.

The study's recipe: Adam, cross-entropy, a fixed number of epochs, the best model chosen by
validation accuracy. Images live in memory as uint8 and are normalised per batch on the device.
Each epoch's order comes from a DistributedSampler (seeded by seed + epoch), which also gives each
process its share under torchrun. Ctrl-C stops after the batch in progress and saves the exact
position into last.pt, so `--resume` continues as if the run had never stopped.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from archspec.errors import UserError
from archspec.layers import format_shape
from archspec.shapes import ResolvedSpec, resolve
from archspec.spec import Spec, load_spec
from runner.checkpoint import Checkpoint, find_checkpoint, load_checkpoint, save_checkpoint
from runner.config import TrainConfig
from runner.data import embedded_dataset, normalize
from runner.device import autocast, memory_format, needs_grad_scaler, pick_device
from runner.distributed import World
from runner.model import seeded_model
from runner.prepare import PreparedData, prepare_data
from runner.rundir import RunDir, default_run_name, new_run_dir

StepHook = Callable[[int, int], None]  # (epoch, batch) after each optimizer step; for tests


@dataclass
class EpochSums:
    """Running totals of the epoch in progress (saved on Ctrl-C to resume mid-epoch)."""

    loss: float = 0.0
    correct: int = 0
    seen: int = 0
    seconds: float = 0.0


@dataclass
class Evaluation:
    loss_sum: float
    correct: int
    count: int
    predicted: torch.Tensor  # (count,) on the CPU

    @property
    def loss(self) -> float:
        return self.loss_sum / max(self.count, 1)

    @property
    def accuracy(self) -> float:
        return self.correct / max(self.count, 1)


@dataclass
class Training:
    """Everything one run holds while it trains; built by `_set_up`, advanced by the epochs."""

    spec: Spec
    config: TrainConfig
    resolved: ResolvedSpec
    data: PreparedData
    world: World
    device: torch.device
    run: RunDir | None  # None on the processes other than the main one
    model: nn.Module  # the model itself: its state_dict is what checkpoints hold
    net: nn.Module  # what the steps call: the model, wrapped for DistributedDataParallel
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None
    loss_fn: nn.Module
    sampler: DistributedSampler
    train_x: torch.Tensor  # uint8 images, on the GPU when there is one
    train_y: torch.Tensor
    val_x: torch.Tensor  # this process's slice of the validation images
    val_y: torch.Tensor
    start_epoch: int
    rows: list[dict[str, Any]]  # metrics.csv so far
    best: dict[str, Any] = field(default_factory=lambda: {"best_accuracy": -1.0, "best_epoch": 0})
    position: dict[str, Any] | None = None  # where a mid-epoch resume starts

    def say(self, *args: Any, **kwargs: Any) -> None:
        if self.world.is_main:
            print(*args, **kwargs)


class StopRequest:
    """Ctrl-C asks the loop to stop after the batch in progress; a second Ctrl-C stops at once.

    Stopping between batches keeps the saved position exact, so a resumed run matches an
    uninterrupted one. Outside the main thread (where signals cannot be caught) it does nothing.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after this batch (Ctrl-C again to stop now)", flush=True)

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def train_run(
    config: TrainConfig,
    resume: Path | None = None,
    *,
    progress: bool = True,
    on_step: StepHook | None = None,
    tensorboard: bool = False,
) -> Path:
    """Train `config.spec` for `config.task`; return the run directory.

    With `resume` (a run directory), continue from its last.pt with the run's own settings;
    `config.epochs` may extend it. `tensorboard`: also log to <run>/tensorboard/.
    """
    spec = load_spec(config.spec)
    checkpoint = None
    if resume is not None:
        checkpoint = load_checkpoint(find_checkpoint(resume, "last.pt"))
        _check_resumable(spec, config, checkpoint, Path(resume))
        config = replace(TrainConfig.from_data(checkpoint.config), epochs=config.epochs)
    world = World.from_environment()
    device = world.device_for(pick_device(config.device))
    world.start(device)
    try:
        t = _set_up(spec, config, checkpoint, world, device, progress and world.is_main)
        board = _tensorboard(t.run.path if tensorboard and world.is_main else None)
        with StopRequest() as stop, board:
            for epoch in range(t.start_epoch, t.config.epochs):
                sums = _train_epoch(t, epoch, stop, progress and world.is_main, on_step)
                row, val_accuracy = _evaluate_epoch(t, epoch, sums)
                _checkpoint_epoch(t, epoch, row, val_accuracy)
                board.epoch(row, t.model, is_best=t.best["best_epoch"] == epoch + 1)
        if not world.is_main:
            return Path(config.out)
        _finish(t)
        board.finish(t.config.to_data(), t.run.read_summary())
        return t.run.path
    finally:
        world.stop()


def _tensorboard(run_dir: Path | None) -> Any:
    from runner.tensorboard import tensorboard_log  # tensorboard is an optional extra

    return tensorboard_log(run_dir)


# -- set-up ----------------------------------------------------------------------------------


def _set_up(
    spec: Spec,
    config: TrainConfig,
    checkpoint: Checkpoint | None,
    world: World,
    device: torch.device,
    progress: bool,
) -> Training:
    """Data, model, optimizer and run directory; from `checkpoint` when resuming."""
    if world.distributed and config.data is None:
        if world.is_main:
            embedded_dataset(seed=0)  # generate the cache once, not once per process
        world.barrier()
    data = prepare_data(config, spec.input_shape[1:], progress=progress)
    resolved = _resolve_for_labels(spec, data.labels, config)
    for note in data.notes:
        if world.is_main:
            print(note)

    model = seeded_model(spec, len(data.labels), config.seed)
    # On the device before the optimizer exists: a loaded optimizer state then lands there too.
    model.to(device=device, memory_format=memory_format(device))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    # On CUDA the whole uint8 set moves to the GPU once: a batch is then an index, no copy.
    train_x = data.train_images.to(device) if device.type == "cuda" else data.train_images
    t = Training(
        spec=spec,
        config=config,
        resolved=resolved,
        data=data,
        world=world,
        device=device,
        run=None,
        model=model,
        net=model,
        optimizer=optimizer,
        scaler=torch.amp.GradScaler("cuda") if needs_grad_scaler(device) else None,
        loss_fn=nn.CrossEntropyLoss(),
        sampler=DistributedSampler(
            range(len(data.train_labels)),
            num_replicas=world.size,
            rank=world.rank,
            shuffle=True,
            seed=config.seed,
        ),
        train_x=train_x,
        train_y=data.train_labels.to(train_x.device),
        # Validation: each process scores its own slice; the sums make the exact full-set score.
        val_x=data.val_images[world.rank :: world.size],
        val_y=data.val_labels[world.rank :: world.size],
        start_epoch=0,
        rows=[],
    )
    if checkpoint is not None:
        _restore(t, checkpoint)
    elif world.is_main:
        name = config.name or default_run_name(config.spec, config.task, config.holdout_domain)
        t.run = new_run_dir(Path(config.out), name)
        t.config = replace(config, name=t.run.path.name)
        t.run.write_yaml("config.yaml", t.config.to_data())
        t.run.write_yaml("spec.yaml", spec.to_data())
    if world.is_main:
        t.run.write_metrics(t.rows)
        t.say(f"run directory: {t.run.path}")
    t.net = world.wrap(model, device)
    return t


def _restore(t: Training, checkpoint: Checkpoint) -> None:
    """Put the model, optimizer, RNG and position back where `checkpoint` left them."""
    t.run = RunDir(checkpoint.path.parent)
    t.model.load_state_dict(checkpoint.model_state)
    t.optimizer.load_state_dict(checkpoint.state["optimizer"])
    torch.set_rng_state(checkpoint.state["torch_rng"])
    t.best = {k: checkpoint.state[k] for k in ("best_accuracy", "best_epoch")}
    t.position = checkpoint.state.get("position")
    t.start_epoch = checkpoint.epoch
    t.rows = [r for r in t.run.read_metrics() if int(r["epoch"]) <= t.start_epoch]
    where = f", batch {t.position['batch']}" if t.position else ""
    t.say(f"resuming {t.run.path} after epoch {t.start_epoch}{where}")


# -- one epoch -------------------------------------------------------------------------------


def _train_epoch(
    t: Training, epoch: int, stop: StopRequest, progress: bool, on_step: StepHook | None
) -> EpochSums:
    """One pass over this process's share of the training images; on Ctrl-C, save and re-raise."""
    batch_size = t.config.batch_size
    t.sampler.set_epoch(epoch)
    order = torch.tensor(list(t.sampler))  # this process's share, in this epoch's order
    first_batch, sums = 0, EpochSums()
    if t.position is not None:  # resuming mid-epoch: same order, same totals so far
        first_batch, sums, t.position = t.position["batch"], EpochSums(**t.position["sums"]), None
    batches = math.ceil(len(order) / batch_size)
    t.net.train()
    bar = tqdm(
        total=len(order),
        initial=min(first_batch * batch_size, len(order)),
        unit="img",
        desc=f"epoch {epoch + 1}/{t.config.epochs}",
        disable=not progress,
        leave=False,
    )
    next_batch = first_batch  # the batches before it are fully counted in `sums`
    try:
        for batch in range(first_batch, batches):
            if t.world.any(stop.requested):
                raise KeyboardInterrupt
            started = time.perf_counter()
            index = order[batch * batch_size : (batch + 1) * batch_size].to(t.train_x.device)
            loss, correct = _train_step(t, t.train_x[index], t.train_y[index])
            sums.loss += loss * len(index)
            sums.correct += correct
            sums.seen += len(index)
            sums.seconds += time.perf_counter() - started
            next_batch = batch + 1
            bar.update(len(index))
            bar.set_postfix(loss=f"{sums.loss / sums.seen:.4f}")  # the bar shows img/s
            if on_step is not None:
                on_step(epoch, batch)
    except KeyboardInterrupt:
        bar.close()
        _save_interrupted(t, epoch, next_batch, sums)
        raise
    bar.close()
    return sums


def _train_step(t: Training, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, int]:
    """One optimizer step on a uint8 batch; returns its mean loss and correct count."""
    x = normalize(images.to(t.device, non_blocking=True))
    x = x.contiguous(memory_format=memory_format(t.device))
    y = labels.to(t.device)
    with autocast(t.device):
        logits = t.net(x)
        loss = t.loss_fn(logits, y)
    t.optimizer.zero_grad(set_to_none=True)
    if t.scaler is not None:
        t.scaler.scale(loss).backward()
        t.scaler.step(t.optimizer)
        t.scaler.update()
    else:
        loss.backward()
        t.optimizer.step()
    return loss.item(), int((logits.argmax(1) == y).sum())


def _save_interrupted(t: Training, epoch: int, next_batch: int, sums: EpochSums) -> None:
    """Save the exact position so `--resume` continues with batch `next_batch` of `epoch`."""
    # Totals of all processes, kept by the main one (the others restart from zero).
    loss_sum, correct, seen = t.world.sum(sums.loss, sums.correct, sums.seen)
    if t.world.is_main:
        kept = EpochSums(loss_sum, int(correct), int(seen), sums.seconds)
        _save(t, t.run.last, epoch, {"batch": next_batch, "sums": asdict(kept)})
        t.say(
            f"\ninterrupted in epoch {epoch + 1}; saved {t.run.last}. Continue with:\n"
            f"  archspec train {t.config.spec} --resume {t.run.path}"
        )


# -- evaluation ------------------------------------------------------------------------------


def _evaluate_epoch(t: Training, epoch: int, sums: EpochSums) -> tuple[dict[str, Any], float]:
    """Score the validation images; return the epoch's metrics.csv row and the exact accuracy
    (the row's is rounded for the file; selection compares the exact one)."""
    loss_sum, correct, seen = t.world.sum(sums.loss, sums.correct, sums.seen)
    val = evaluate(t.net, t.val_x, t.val_y, t.config.batch_size, t.device)
    val_loss_sum, val_correct, val_count = t.world.sum(val.loss_sum, val.correct, val.count)
    val_loss, val_accuracy = val_loss_sum / val_count, val_correct / val_count
    t.say(f"[Epoch {epoch + 1}] eval accuracy: {val_accuracy:.4f}, loss: {val_loss:.4f}")
    row = {
        "epoch": epoch + 1,
        "train_loss": round(loss_sum / seen, 6),
        "train_accuracy": round(correct / seen, 6),
        "val_loss": round(val_loss, 6),
        "val_accuracy": round(val_accuracy, 6),
        "lr": t.optimizer.param_groups[0]["lr"],
        "seconds": round(sums.seconds, 3),
        "images_per_second": round(seen / sums.seconds, 1),
    }
    return row, val_accuracy


@torch.no_grad()
def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    device: torch.device,
) -> Evaluation:
    """Summed loss, correct count and predicted labels over `images`, in eval mode."""
    was_training = model.training
    model.eval()
    loss_sum, predictions = 0.0, []
    for start in range(0, len(labels), batch_size):
        x = normalize(images[start : start + batch_size].to(device))
        y = labels[start : start + batch_size].to(device)
        with autocast(device):
            logits = model(x.contiguous(memory_format=memory_format(device)))
        loss_sum += nn.functional.cross_entropy(logits.float(), y, reduction="sum").item()
        predictions.append(logits.argmax(1).cpu())
    model.train(was_training)
    predicted = torch.cat(predictions) if predictions else torch.empty(0, dtype=torch.int64)
    correct = int((predicted == labels.cpu()).sum())
    return Evaluation(loss_sum, correct, len(labels), predicted)


# -- checkpoint ------------------------------------------------------------------------------


def _checkpoint_epoch(t: Training, epoch: int, row: dict[str, Any], val_accuracy: float) -> None:
    """Record the epoch: best.pt when validation improved, then metrics.csv and last.pt."""
    t.rows.append(row)
    if val_accuracy > t.best["best_accuracy"]:
        t.best.update(best_accuracy=val_accuracy, best_epoch=epoch + 1)
        if t.world.is_main:
            _save(t, t.run.best, epoch + 1)
    if t.world.is_main:
        t.run.write_metrics(t.rows)
        _save(t, t.run.last, epoch + 1)


def _save(t: Training, path: Path, epoch: int, position: dict[str, Any] | None = None) -> None:
    """last.pt resumes training; best.pt is for evaluation, so it skips the optimizer
    (two thirds of the file with Adam's two moments per weight)."""
    resumable = path == t.run.last
    extra = (
        {
            "optimizer": t.optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "position": position,
        }
        if resumable
        else {}
    )
    save_checkpoint(
        path,
        spec=t.spec,
        task=t.config.task,
        labels=t.data.labels,
        model_state={k: v.detach().cpu() for k, v in t.model.state_dict().items()},
        config=t.config.to_data(),
        epoch=epoch,
        state={**t.best, **extra},
    )


# -- checks ----------------------------------------------------------------------------------


def _resolve_for_labels(spec: Spec, labels: tuple[str, ...], config: TrainConfig) -> ResolvedSpec:
    resolved = resolve(spec, len(labels))
    if resolved.output_shape != (len(labels),):
        raise UserError(
            f"{config.spec}: the model's output is {format_shape(resolved.output_shape)} but "
            f"the {config.task} task on this data has {len(labels)} classes "
            f"({', '.join(labels)}); end the spec with a Linear whose out_features is num_classes"
        )
    return resolved


def _check_resumable(spec: Spec, config: TrainConfig, checkpoint: Checkpoint, run: Path) -> None:
    if spec != checkpoint.spec:
        raise UserError(
            f"cannot resume {run} with {config.spec}: the run trained spec "
            f"{checkpoint.spec.name} ({checkpoint.config.get('spec')}), and {config.spec} "
            f"({spec.name}) differs from it; give the run's own spec, or start a new run "
            "without --resume"
        )
    if config.task != checkpoint.task:
        raise UserError(
            f"cannot resume {run} for --task {config.task}: it trains the {checkpoint.task} task"
        )


# -- finish ----------------------------------------------------------------------------------


def _finish(t: Training) -> None:
    """Figures and summary.json from the best model; summary.json marks the run finished."""
    from archspec.summary import summarize
    from runner.visualize import plot_confusion, plot_curves

    run, config, data = t.run, t.config, t.data
    best = load_checkpoint(run.best).build_model()
    stats = summarize(best, t.resolved)
    best.to(device=t.device, memory_format=memory_format(t.device))
    val = evaluate(best, data.val_images, data.val_labels, config.batch_size, t.device)
    title = f"{t.spec.name}, {config.task} task"
    plot_curves(run.metrics, run.path / "curves.png", title=title)
    plot_confusion(
        data.val_labels.tolist(),
        val.predicted.tolist(),
        data.labels,
        run.path / "confusion.png",
        title=f"{title}: validation, best epoch {t.best['best_epoch']}",
    )
    seconds = [float(r["seconds"]) for r in t.rows]
    run.write_summary(
        {
            "spec_name": t.spec.name,
            "spec_path": config.spec,
            "task": config.task,
            "labels": list(data.labels),
            "epochs": config.epochs,
            "best_val_accuracy": t.best["best_accuracy"],
            "best_epoch": t.best["best_epoch"],
            "final_val_accuracy": float(t.rows[-1]["val_accuracy"]) if t.rows else None,
            "seconds_per_epoch": sum(seconds) / len(seconds) if seconds else None,
            "params": stats.total_params,
            "mult_adds": stats.total_mult_adds,
        }
    )
    print(
        f"best eval accuracy {t.best['best_accuracy']:.4f} at epoch {t.best['best_epoch']}; "
        f"see {run.path}"
    )
