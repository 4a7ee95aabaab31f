"""Train a spec for one task: the whole loop, top to bottom.

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
from dataclasses import asdict, dataclass, replace
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
) -> Path:
    """Train `config.spec` for `config.task`; return the run directory.

    With `resume` (a run directory), continue from its last.pt with the run's own settings;
    `config.epochs` may extend it.
    """
    spec = load_spec(config.spec, config.spec_set)
    checkpoint = None
    if resume is not None:
        checkpoint = load_checkpoint(find_checkpoint(resume, "last.pt"))
        _check_resumable(spec, config, checkpoint, Path(resume))
        config = replace(TrainConfig.from_data(checkpoint.config), epochs=config.epochs)
    world = World.from_environment()
    device = world.device_for(pick_device(config.device))
    world.start(device)
    try:
        return _train(spec, config, checkpoint, world, device, progress and world.is_main, on_step)
    finally:
        world.stop()


def _train(
    spec: Spec,
    config: TrainConfig,
    checkpoint: Checkpoint | None,
    world: World,
    device: torch.device,
    progress: bool,
    on_step: StepHook | None,
) -> Path:
    say = print if world.is_main else (lambda *args, **kwargs: None)
    if world.distributed and config.data is None:
        if world.is_main:
            embedded_dataset(seed=0)  # generate the cache once, not once per process
        world.barrier()
    data = prepare_data(config, spec.input_shape[1:], progress=progress)
    resolved = _resolve_for_labels(spec, data.labels, config)
    for note in data.notes:
        say(note)

    model = seeded_model(spec, len(data.labels), config.seed)
    # On the device before the optimizer exists: a loaded optimizer state then lands there too.
    model.to(device=device, memory_format=memory_format(device))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    state: dict[str, Any] = {"best_accuracy": -1.0, "best_epoch": 0}
    position: dict[str, Any] | None = None
    if checkpoint is not None:
        run = RunDir(checkpoint.path.parent)
        model.load_state_dict(checkpoint.model_state)
        optimizer.load_state_dict(checkpoint.state["optimizer"])
        torch.set_rng_state(checkpoint.state["torch_rng"])
        state = {k: checkpoint.state[k] for k in ("best_accuracy", "best_epoch")}
        position = checkpoint.state.get("position")
        start_epoch = checkpoint.epoch
        rows = [r for r in run.read_metrics() if int(r["epoch"]) <= start_epoch]
        where = f", batch {position['batch']}" if position else ""
        say(f"resuming {run.path} after epoch {start_epoch}{where}")
    else:
        start_epoch, rows = 0, []
        if world.is_main:
            name = config.name or default_run_name(config.spec, config.task, config.holdout_domain)
            run = new_run_dir(Path(config.out), name)
            config = replace(config, name=run.path.name)
            run.write_yaml("config.yaml", config.to_data())
            run.write_yaml("spec.yaml", spec.to_data())
    if world.is_main:
        run.write_metrics(rows)
        say(f"run directory: {run.path}")

    net = world.wrap(model, device)
    # On CUDA the whole uint8 set moves to the GPU once: a batch is then an index, no copy.
    train_x = data.train_images.to(device) if device.type == "cuda" else data.train_images
    train_y = data.train_labels.to(train_x.device)
    # Validation: each process scores its own slice; the sums make the exact full-set score.
    val_x = data.val_images[world.rank :: world.size]
    val_y = data.val_labels[world.rank :: world.size]
    sampler = DistributedSampler(
        range(len(train_y)),
        num_replicas=world.size,
        rank=world.rank,
        shuffle=True,
        seed=config.seed,
    )
    scaler = torch.amp.GradScaler("cuda") if needs_grad_scaler(device) else None
    loss_fn = nn.CrossEntropyLoss()

    def save(path: Path, epoch: int, position: dict[str, Any] | None = None) -> None:
        """last.pt resumes training; best.pt is for evaluation, so it skips the optimizer
        (two thirds of the file with Adam's two moments per weight)."""
        resumable = path == run.last
        extra = (
            {
                "optimizer": optimizer.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "position": position,
            }
            if resumable
            else {}
        )
        save_checkpoint(
            path,
            spec=spec,
            task=config.task,
            labels=data.labels,
            model_state={k: v.detach().cpu() for k, v in model.state_dict().items()},
            config=config.to_data(),
            epoch=epoch,
            state={**state, **extra},
        )

    with StopRequest() as stop:
        for epoch in range(start_epoch, config.epochs):
            sampler.set_epoch(epoch)
            order = torch.tensor(list(sampler))  # this process's share, in this epoch's order
            first_batch, sums = 0, EpochSums()
            if position is not None:  # resuming mid-epoch: same order, same totals so far
                first_batch, sums, position = position["batch"], EpochSums(**position["sums"]), None
            batches = math.ceil(len(order) / config.batch_size)
            net.train()
            bar = tqdm(
                total=len(order),
                initial=min(first_batch * config.batch_size, len(order)),
                unit="img",
                desc=f"epoch {epoch + 1}/{config.epochs}",
                disable=not progress,
                leave=False,
            )
            next_batch = first_batch  # the batches before it are fully counted in `sums`
            try:
                for batch in range(first_batch, batches):
                    if world.any(stop.requested):
                        raise KeyboardInterrupt
                    started = time.perf_counter()
                    index = order[batch * config.batch_size : (batch + 1) * config.batch_size]
                    index = index.to(train_x.device)
                    x = normalize(train_x[index].to(device, non_blocking=True))
                    x = x.contiguous(memory_format=memory_format(device))
                    y = train_y[index].to(device)
                    with autocast(device):
                        logits = net(x)
                        loss = loss_fn(logits, y)
                    optimizer.zero_grad(set_to_none=True)
                    if scaler is not None:
                        scaler.scale(loss).backward()
                        scaler.step(optimizer)
                        scaler.update()
                    else:
                        loss.backward()
                        optimizer.step()
                    sums.loss += loss.item() * len(y)
                    sums.correct += int((logits.argmax(1) == y).sum())
                    sums.seen += len(y)
                    sums.seconds += time.perf_counter() - started
                    next_batch = batch + 1
                    bar.update(len(y))
                    bar.set_postfix(loss=f"{sums.loss / sums.seen:.4f}")  # the bar shows img/s
                    if on_step is not None:
                        on_step(epoch, batch)
            except KeyboardInterrupt:
                bar.close()
                # Totals of all processes, kept by the main one (the others restart from zero).
                loss_sum, correct, seen = world.sum(sums.loss, sums.correct, sums.seen)
                if world.is_main:
                    kept = EpochSums(loss_sum, int(correct), int(seen), sums.seconds)
                    save(run.last, epoch, {"batch": next_batch, "sums": asdict(kept)})
                    say(
                        f"\ninterrupted in epoch {epoch + 1}; saved {run.last}. Continue with:\n"
                        f"  archspec train {config.spec} --resume {run.path}"
                    )
                raise
            bar.close()

            loss_sum, correct, seen = world.sum(sums.loss, sums.correct, sums.seen)
            val = evaluate(net, val_x, val_y, config.batch_size, device)
            val_loss_sum, val_correct, val_count = world.sum(val.loss_sum, val.correct, val.count)
            val_loss, val_accuracy = val_loss_sum / val_count, val_correct / val_count
            say(f"[Epoch {epoch + 1}] eval accuracy: {val_accuracy:.4f}, loss: {val_loss:.4f}")
            rows.append(
                {
                    "epoch": epoch + 1,
                    "train_loss": round(loss_sum / seen, 6),
                    "train_accuracy": round(correct / seen, 6),
                    "val_loss": round(val_loss, 6),
                    "val_accuracy": round(val_accuracy, 6),
                    "lr": optimizer.param_groups[0]["lr"],
                    "seconds": round(sums.seconds, 3),
                    "images_per_second": round(seen / sums.seconds, 1),
                }
            )
            if val_accuracy > state["best_accuracy"]:
                state.update(best_accuracy=val_accuracy, best_epoch=epoch + 1)
                if world.is_main:
                    save(run.best, epoch + 1)
            if world.is_main:
                run.write_metrics(rows)
                save(run.last, epoch + 1)

    if not world.is_main:
        return Path(config.out)
    _finish(run, spec, resolved, config, data, rows, state, device)
    return run.path


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


def _finish(
    run: RunDir,
    spec: Spec,
    resolved: ResolvedSpec,
    config: TrainConfig,
    data: PreparedData,
    rows: list[dict[str, Any]],
    state: dict[str, Any],
    device: torch.device,
) -> None:
    """Figures and summary.json from the best model; summary.json marks the run finished."""
    from archspec.summary import summarize
    from runner.visualize import plot_confusion, plot_curves

    best = load_checkpoint(run.best).build_model()
    stats = summarize(best, resolved)
    best.to(device=device, memory_format=memory_format(device))
    val = evaluate(best, data.val_images, data.val_labels, config.batch_size, device)
    title = f"{spec.name}, {config.task} task"
    plot_curves(run.metrics, run.path / "curves.png", title=title)
    plot_confusion(
        data.val_labels.tolist(),
        val.predicted.tolist(),
        data.labels,
        run.path / "confusion.png",
        title=f"{title}: validation, best epoch {state['best_epoch']}",
    )
    seconds = [float(r["seconds"]) for r in rows]
    run.write_summary(
        {
            "spec_name": spec.name,
            "spec_path": config.spec,
            "task": config.task,
            "labels": list(data.labels),
            "epochs": config.epochs,
            "best_val_accuracy": state["best_accuracy"],
            "best_epoch": state["best_epoch"],
            "final_val_accuracy": float(rows[-1]["val_accuracy"]) if rows else None,
            "seconds_per_epoch": sum(seconds) / len(seconds) if seconds else None,
            "params": stats.total_params,
            "mult_adds": stats.total_mult_adds,
        }
    )
    print(
        f"best eval accuracy {state['best_accuracy']:.4f} at epoch {state['best_epoch']}; "
        f"see {run.path}"
    )
