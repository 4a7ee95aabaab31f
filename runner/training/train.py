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

import contextlib
import errno
import functools
import signal
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from archspec.compiler import compile_spec
from archspec.errors import UserError
from archspec.layers import format_shape
from archspec.memory import check_memory
from archspec.shapes import ResolvedSpec, resolve
from archspec.spec import Spec, load_spec
from runner.data import PACS_MEAN, PACS_STD, embedded_dataset, normalize
from runner.data.channels import check_channels, per_channel
from runner.training import hooks
from runner.training.augment import Augmenter
from runner.training.batches import BatchMaker
from runner.training.checkpoint import (
    Checkpoint,
    find_checkpoint,
    load_checkpoint,
    remove_partial_writes,
    save_checkpoint,
)
from runner.training.checkpoint_writer import CheckpointWriter, snapshot, snapshot_ready, to_cpu
from runner.training.config import TrainConfig
from runner.training.device import (
    autocast,
    deterministic,
    grad_scaler,
    pick_device,
    resolve_precision,
    torch_memory_format,
)
from runner.training.distributed import World
from runner.training.init import TORCHVISION, load_init, read_state
from runner.training.model import seeded_model
from runner.training.optimization import build_optimizer, build_schedule
from runner.training.prepare import PreparedData, prepare_data
from runner.training.recipe import Recipe, recipe_of, statistics
from runner.training.resume import resumed_config
from runner.training.rundir import RunDir, default_run_name, new_run_dir
from runner.training.step import choose_memory_format, train_step

StepHook = Callable[[int, int], None]  # (epoch, batch) after each optimizer step; for tests
LOSS_SHOWN_EVERY = 10.0  # seconds between progress-bar loss updates (each waits for the GPU)


@dataclass
class EpochSums:
    """Running totals of the epoch in progress (saved on Ctrl-C to resume mid-epoch).

    Each step's loss and correct count stay on the device, kept in a list: no work and no wait
    per step. `read` adds them up in one go, in step order and in float64, as they always were.
    """

    loss: float = 0.0
    correct: int = 0
    seen: int = 0
    seconds: float = 0.0
    pending: list[tuple[torch.Tensor, torch.Tensor, int]] = field(default_factory=list)

    def add(self, loss: torch.Tensor, correct: torch.Tensor, count: int) -> None:
        self.pending.append((loss, correct, count))
        self.seen += count

    def read(self) -> dict[str, Any]:
        """The totals as numbers (this waits for the GPU)."""
        if self.pending:
            losses = torch.stack([loss for loss, _, _ in self.pending]).tolist()
            corrects = torch.stack([correct for _, correct, _ in self.pending]).tolist()
            for loss, correct, (_, _, count) in zip(losses, corrects, self.pending, strict=True):
                self.loss += loss * count
                self.correct += int(correct)
            self.pending = []
        return {
            "loss": self.loss,
            "correct": self.correct,
            "seen": self.seen,
            "seconds": self.seconds,
        }


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
    config: TrainConfig  # precision and memory_format resolved
    resolved: ResolvedSpec
    data: PreparedData
    world: World
    device: torch.device
    run: RunDir | None  # None on the processes other than the main one
    model: nn.Module  # the model itself: its state_dict is what checkpoints hold
    net: nn.Module  # what the steps call: the model, wrapped for DistributedDataParallel
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None
    sampler: DistributedSampler
    train_x: torch.Tensor  # uint8 images, on the GPU when there is one and they fit
    train_y: torch.Tensor
    val_x: torch.Tensor  # this process's slice of the validation images
    val_y: torch.Tensor
    start_epoch: int
    rows: list[dict[str, Any]]  # metrics.csv so far
    recipe: Recipe
    schedule: torch.optim.lr_scheduler.LRScheduler
    augmenter: Augmenter
    batches: BatchMaker  # index -> the batch a step takes
    mean: tuple[float, ...]  # normalisation, one value per input channel
    std: tuple[float, ...]
    test_x: torch.Tensor | None = None  # this process's slice of the held-out domain's images
    test_y: torch.Tensor | None = None
    best: dict[str, Any] = field(default_factory=lambda: {"best_accuracy": -1.0, "best_epoch": 0})
    position: dict[str, Any] | None = None  # where a mid-epoch resume starts
    drop_lone_image: bool = False  # BatchNorm cannot train on a last batch of one image
    writer: CheckpointWriter = field(default_factory=CheckpointWriter)
    best_weights: dict[str, torch.Tensor] | None = None  # best.pt's snapshot, not written yet
    best_state: dict[str, torch.Tensor] | None = None  # best weights found by this process
    saved_epoch: int | None = None  # epoch of the newest last.pt on disk (None: none yet)
    checkpoint_seconds: float = 0.0  # time training waited for checkpoints (summary.json)

    def say(self, *args: Any, **kwargs: Any) -> None:
        if self.world.is_main:
            print(*args, **kwargs)

    @property
    def layout(self) -> torch.memory_format:
        return torch_memory_format(self.config.memory_format)

    @property
    def resume_command(self) -> str:
        return f"archspec train {self.config.spec} --resume {self.run.path}"


# The signals a cluster sends before it ends a job: SLURM sends SIGTERM at preemption or at the
# time limit (then SIGKILL after its grace period), or SIGUSR1/SIGUSR2 earlier with --signal.
PREEMPT_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGUSR1", "SIGUSR2") if hasattr(signal, name)
)
EXIT_PREEMPTED = 143  # 128 + SIGTERM, what a scheduler expects of a job it asked to stop


class Preempted(KeyboardInterrupt):
    """The scheduler asked the run to stop; last.pt holds its exact position."""

    exit_code = EXIT_PREEMPTED

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


class StopRequest:
    """Ctrl-C asks the loop to stop after the batch in progress; a second Ctrl-C stops at once.
    SIGTERM, SIGUSR1 and SIGUSR2 (a scheduler's) also stop after the batch, and never at once:
    the checkpoint must be written within the grace period.

    Stopping between batches keeps the saved position exact, so a resumed run matches an
    uninterrupted one. Outside the main thread (where signals cannot be caught) it does nothing.
    """

    def __init__(self) -> None:
        self.requested = False
        self.preempted_by: str | None = None  # the scheduler's signal, if it sent one
        self.message = "stopping after this batch (Ctrl-C again to stop now)"
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if signum != signal.SIGINT:
            self.preempted_by = signal.Signals(signum).name
            message = f"{self.preempted_by}: saving a checkpoint after this batch"
        else:
            message = self.message
        if not self.requested:
            print(f"\n{message}", flush=True)
        self.requested = True

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, *PREEMPT_SIGNALS):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)

    def interrupted(self) -> KeyboardInterrupt:
        """What the loop raises when it stops: Preempted for a scheduler's signal."""
        return Preempted(self.preempted_by) if self.preempted_by else KeyboardInterrupt()


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
        _check_resumable(spec, config, checkpoint, Path(resume))
        config = resumed_config(Path(resume), checkpoint.config, config, given)
        if _nothing_to_do(checkpoint, config):
            return checkpoint.path.parent
    world = World.from_environment()
    device = world.device_for(pick_device(config.device))
    world.start(device)
    try:
        with deterministic(config.deterministic), StopRequest() as stop:
            t = _set_up(spec, config, checkpoint, world, device, progress and world.is_main)
            board = _tensorboard(t.run.path if tensorboard and world.is_main else None)
            with _writes_reported(t), board:
                _train_epochs(t, stop, progress and world.is_main, on_step, board)
                if world.is_main:
                    _finish_or_hint(t, stop)
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
        sums = _train_epoch(t, epoch, stop, progress, on_step)
        row, val_accuracy = _evaluate_epoch(t, epoch, sums)
        _checkpoint_epoch(t, epoch, row, val_accuracy)
        board.epoch(row, t.model, is_best=t.best["best_epoch"] == epoch + 1)


def _tensorboard(run_dir: Path | None) -> Any:
    from runner.training.tensorboard import tensorboard_log  # tensorboard is an optional extra

    return tensorboard_log(run_dir)


# -- set-up ----------------------------------------------------------------------------------


def _data_device(data: PreparedData, device: torch.device) -> torch.device:
    """Where the run's images and labels live: on CUDA, the GPU, moved there once for the whole
    run (a batch is then an index, with no copy and no wait for the GPU) if all of them together
    take at most half its free memory, so the model and several runs sharing it keep room.
    Elsewhere, or where they do not fit, the CPU, and each batch is copied."""
    if device.type != "cuda":
        return torch.device("cpu")
    tensors = [data.train_images, data.train_labels, data.val_images, data.val_labels]
    if data.test_images is not None:
        tensors += [data.test_images, data.test_labels]
    free, _ = torch.cuda.mem_get_info(device)
    return device if sum(x.nbytes for x in tensors) <= free // 2 else torch.device("cpu")


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
    channels = spec.input_shape[0]
    recipe, (norm, mean, std), start = _check_recipe_and_start(config, channels, checkpoint)
    # Decoded on the CPU threads, on a GPU machine too: measured on an H200 with 16 cores, the
    # whole pipeline ran faster that way than with nvjpeg, whose pixels also differ from
    # libjpeg's (by 1.8 levels of 255 on average), so a run sees the same images on any machine.
    data = prepare_data(config, spec.input_shape[1:], progress=progress, channels=channels)
    resolved = _resolve_for_labels(spec, data.labels, config)
    say = print if world.is_main else (lambda *args, **kwargs: None)
    for note in data.notes:
        say(note)
    check_memory(resolved, device, config.batch_size, training=True)  # before any weight exists

    model = seeded_model(spec, len(data.labels), config.seed)
    if config.batch_size == 1 and _has_batchnorm(model):  # before any step, timed ones included
        raise UserError(
            f"{config.spec} has BatchNorm, which needs at least 2 images per step: give "
            "--batch-size 2 or more"
        )
    if start is not None:
        load_init(model, config.init, say, start)
    if recipe.normalize is None and norm == "imagenet":
        say("normalisation: ImageNet's mean and std, as torchvision's weights were trained with")
    model.to(device)
    home = _data_device(data, device)
    train_x, train_y = data.train_images.to(home), data.train_labels.to(home)
    config = _choose_compute(config, model, train_x, train_y, world, device, (mean, std))
    # In its layout, on its device, before the optimizer exists: a loaded optimizer state then
    # lands there too.
    model.to(memory_format=torch_memory_format(config.memory_format))
    optimizer = build_optimizer(recipe, model.parameters())
    augmenter = Augmenter(recipe.augment, channels, config.seed)
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
        scaler=grad_scaler(device, config.precision),
        sampler=DistributedSampler(
            range(len(data.train_labels)),
            num_replicas=world.size,
            rank=world.rank,
            shuffle=True,
            seed=config.seed,
        ),
        train_x=train_x,
        train_y=train_y,
        # Validation: each process scores its own slice; the sums make the exact full-set score.
        val_x=data.val_images[world.rank :: world.size].to(home),
        val_y=data.val_labels[world.rank :: world.size].to(home),
        start_epoch=0,
        rows=[],
        recipe=recipe,
        schedule=build_schedule(recipe, optimizer, config.epochs),
        augmenter=augmenter,
        batches=BatchMaker(
            train_x, device, mean, std, torch_memory_format(config.memory_format), augmenter
        ),
        mean=mean,
        std=std,
    )
    if data.test_images is not None:  # scored every epoch, never used to choose one
        t.test_x = data.test_images[world.rank :: world.size].to(home)
        t.test_y = data.test_labels[world.rank :: world.size].to(home)
    _check_last_batch(t)
    if checkpoint is not None:
        _restore(t, checkpoint)
    elif world.is_main:
        _new_run(t, norm)
    if world.is_main:
        t.run.write_metrics(t.rows)
        t.say(f"run directory: {t.run.path}")
    t.net = world.wrap(model, device)
    return t


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    return build_optimizer(recipe_of(config), model.parameters())


def _check_recipe_and_start(
    config: TrainConfig, channels: int, checkpoint: Checkpoint | None
) -> tuple[Recipe, tuple[str, tuple, tuple], dict | None]:
    """The recipe, its normalisation per input channel, and the --init weights: read before the
    data is decoded, so a mistake in any of them costs no decoding."""
    check_channels(channels, config.spec)
    recipe = recipe_of(config)
    norm, mean, std = statistics(recipe, pretrained_imagenet=_imagenet_start(config))
    normalization = (norm, per_channel(mean, channels), per_channel(std, channels))
    # A resumed run has its own weights.
    start = read_state(config.init) if config.init is not None and checkpoint is None else None
    return recipe, normalization, start


def _imagenet_start(config: TrainConfig) -> bool:
    return config.init is not None and config.init.startswith(TORCHVISION)


def _choose_compute(
    config: TrainConfig,
    model: nn.Module,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    world: World,
    device: torch.device,
    normalization: tuple[Sequence[float], Sequence[float]],
) -> TrainConfig:
    """Resolve "auto" precision and memory format for this model on this device, said once.

    The memory format is timed (a few steps of a copy of the model in each format): which one
    is faster depends on the layers and the device (channels_last was 21% faster for
    AlexNetTiny on a 2-core CPU, equal for AlexNet). A resumed run keeps the run's choice.
    """
    precision = resolve_precision(config.precision, device)
    memory_format, why = config.memory_format, "as set"
    if memory_format == "auto":
        # Timed on the run's batch on a GPU (small ones are bound by kernel launches), on at most
        # 32 images on a CPU to keep it short: there the formats' difference grows with the
        # batch up to about that (AlexNetTiny on 2 cores, channels_last against contiguous: 3%
        # faster at 16 images, which the 3% rule calls a tie; 13% at 32 and 64; 19% at 128).
        count = min(config.batch_size, len(train_y), 32 if device.type == "cpu" else len(train_y))
        x = normalize(train_x[:count].to(device), *normalization)
        y = train_y[:count].to(device)

        def combine(seconds: dict[str, float]) -> dict[str, float]:
            return dict(zip(seconds, world.sum(*seconds.values()), strict=True))

        memory_format, why = choose_memory_format(
            model, lambda m: _optimizer(m, config), x, y, precision, combine
        )
    if world.is_main:
        print(f"precision: {precision}, memory format: {memory_format} ({why})")
    return replace(config, precision=precision, memory_format=memory_format)


def _has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def _check_last_batch(t: Training) -> None:
    """BatchNorm cannot train on one image: a last batch of one is left out, said once."""
    if not _has_batchnorm(t.model):
        return
    share = len(t.sampler)  # this process's images per epoch
    if share < 2:
        raise UserError(
            f"{t.config.spec} has BatchNorm, which needs at least 2 training images per step; "
            f"this run has {share} per process: add training images"
        )
    if share % t.config.batch_size == 1:
        t.drop_lone_image = True
        t.say(
            f"note: {share} training images in batches of {t.config.batch_size} leave a last "
            "batch of 1 image, which BatchNorm cannot train on: each epoch leaves it out "
            "(a different image every epoch, as the order is reshuffled)"
        )


def _new_run(t: Training, normalization: str) -> None:
    config = t.config
    name = config.name or default_run_name(config.spec, config.task, config.holdout_domain)
    t.run = new_run_dir(Path(config.out), name)
    t.config = replace(config, name=t.run.path.name)
    t.run.write_yaml("config.yaml", t.config.to_data())
    t.run.write_yaml("spec.yaml", t.spec.to_data())
    # The recipe as trained: the normalisation resolved to the values per input channel.
    recipe = {**t.recipe.to_data(), "normalize": normalization}
    t.run.write_yaml("recipe.yaml", {**recipe, "mean": [*t.mean], "std": [*t.std]})


def _restore(t: Training, checkpoint: Checkpoint) -> None:
    """Put the model, optimizer, RNGs and position back where `checkpoint` left them."""
    t.run = RunDir(checkpoint.path.parent)
    t.model.load_state_dict(checkpoint.model_state)
    t.optimizer.load_state_dict(checkpoint.state["optimizer"])
    torch.set_rng_state(checkpoint.state["torch_rng"])
    _restore_cuda_rng(t, checkpoint.state.get("cuda_rng"))
    if t.scaler is not None and checkpoint.state.get("scaler"):
        t.scaler.load_state_dict(checkpoint.state["scaler"])
    if "schedule" in checkpoint.state:  # absent from runs saved before recipes existed
        t.schedule.load_state_dict(checkpoint.state["schedule"])
        t.augmenter.load_state_dict(checkpoint.state["augment"])
    t.best = {k: checkpoint.state[k] for k in ("best_accuracy", "best_epoch")}
    t.position = checkpoint.state.get("position")
    t.start_epoch = t.saved_epoch = checkpoint.epoch
    t.rows = [r for r in t.run.read_metrics() if int(r["epoch"]) <= t.start_epoch]
    if t.world.is_main:
        remove_partial_writes(t.run.path)
        t.run.write_yaml("config.yaml", t.config.to_data())  # --epochs may have extended it
    where = f", batch {t.position['batch']}" if t.position else ""
    t.say(f"resuming {t.run.path} after epoch {t.start_epoch}{where}")


def _restore_cuda_rng(t: Training, states: list[torch.Tensor] | None) -> None:
    """Every CUDA generator as saved; dropout on the GPU draws from them."""
    if t.device.type != "cuda" or not states:
        return
    if len(states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states)
    else:  # resumed on a machine with another number of GPUs: the run's own device only
        torch.cuda.set_rng_state(states[0], t.device)


# -- one epoch -------------------------------------------------------------------------------


def _train_epoch(
    t: Training, epoch: int, stop: StopRequest, progress: bool, on_step: StepHook | None
) -> EpochSums:
    """One pass over this process's share of the training images; on Ctrl-C, save and re-raise."""
    size = t.config.batch_size
    t.sampler.set_epoch(epoch)
    # This process's share, in this epoch's order, on the device once: a batch is a slice.
    order = torch.tensor(list(t.sampler), device=t.train_x.device)
    whole, rest = divmod(len(order), size)
    batches = whole + (1 if rest > 1 or (rest == 1 and not t.drop_lone_image) else 0)
    first_batch, sums = 0, EpochSums()
    if t.position is not None:  # resuming mid-epoch: same order, same totals so far
        first_batch, sums = t.position["batch"], EpochSums(**t.position["sums"])
        t.position = None
    t.net.train()
    bar = _progress_bar(t, epoch, min(first_batch * size, len(order)), progress)
    next_batch, in_step = first_batch, False  # the batches before next_batch are in `sums`
    started = shown = time.perf_counter()
    try:
        for batch in range(first_batch, batches):
            if _stop_requested(t, stop, batch):
                raise stop.interrupted()
            index = order[batch * size : (batch + 1) * size]
            in_step = True
            _train_step(t, sums, index, functools.partial(hooks.mid_step, epoch, batch))
            in_step, next_batch = False, batch + 1
            bar.update(len(index))
            if progress and time.perf_counter() - shown > LOSS_SHOWN_EVERY:
                shown = time.perf_counter()
                bar.set_postfix(loss=f"{sums.read()['loss'] / sums.seen:.4f}")
            hooks.after_step(epoch, batch)
            if on_step is not None:
                on_step(epoch, batch)
    except KeyboardInterrupt:
        bar.close()
        _stopped(t, epoch, next_batch, sums, started, in_step)
        raise
    bar.close()
    sums.read()  # the one wait for the GPU in an epoch: the epoch's time is then true
    sums.seconds += time.perf_counter() - started
    return sums


def _progress_bar(t: Training, epoch: int, done: int, progress: bool) -> tqdm:
    """Images done and images/s; the loss now and then (reading it waits for the GPU)."""
    return tqdm(
        total=len(t.sampler),
        initial=done,
        unit="img",
        desc=f"epoch {epoch + 1}/{t.config.epochs}",
        disable=not progress,
        leave=False,
    )


def _stop_requested(t: Training, stop: StopRequest, batch: int) -> bool:
    """Ctrl-C seen by any process. Asking the others is a collective, so under torchrun it is
    done every 16 batches only; alone, every batch (it costs nothing)."""
    if not t.world.distributed:
        return stop.requested
    return batch % 16 == 0 and t.world.any(stop.requested)


def _train_step(
    t: Training, sums: EpochSums, index: torch.Tensor, after_forward: Callable[[], None]
) -> None:
    """One optimizer step on the images at `index`, added to `sums` without waiting."""
    x = t.batches(index)
    y = t.train_y[index].to(t.device, non_blocking=True)
    loss, correct = train_step(
        t.net,
        t.optimizer,
        t.scaler,
        x,
        y,
        t.config.precision,
        after_forward,
        label_smoothing=t.recipe.label_smoothing,
    )
    sums.add(loss, correct, len(index))


def _stopped(
    t: Training, epoch: int, next_batch: int, sums: EpochSums, started: float, in_step: bool
) -> None:
    """Ctrl-C: save the exact position so `--resume` continues with batch `next_batch`. Stopped
    inside a step (a second Ctrl-C), the weights may be half updated: last.pt stays as it was."""
    if in_step:
        if t.world.is_main:
            _wait_quietly(t)
            t.say(_hard_stop_hint(t))
        return
    sums.seconds += time.perf_counter() - started
    # Totals of all processes, kept by the main one (the others restart from zero).
    totals = sums.read()
    loss_sum, correct, seen = t.world.sum(totals["loss"], totals["correct"], totals["seen"])
    if t.world.is_main:
        kept = {"loss": loss_sum, "correct": int(correct), "seen": int(seen)}
        _save_now(t, epoch, {"batch": next_batch, "sums": {**totals, **kept}})
        t.say(
            f"\ninterrupted in epoch {epoch + 1}; saved {t.run.last}. Continue with:\n"
            f"  {t.resume_command}"
        )


def _hard_stop_hint(t: Training) -> str:
    if t.saved_epoch is None:
        return "\nstopped at once, before the first checkpoint: there is nothing to resume"
    return (
        f"\nstopped at once; {t.run.last} holds the run after epoch {t.saved_epoch}. "
        f"Continue with:\n  {t.resume_command}"
    )


# -- evaluation ------------------------------------------------------------------------------


def _evaluate_epoch(t: Training, epoch: int, sums: EpochSums) -> tuple[dict[str, Any], float]:
    """Score the validation images; return the epoch's metrics.csv row and the exact accuracy
    (the row's is rounded for the file; selection compares the exact one)."""
    totals = sums.read()
    loss_sum, correct, seen = t.world.sum(totals["loss"], totals["correct"], totals["seen"])
    val = _score(t, t.val_x, t.val_y)
    val_loss_sum, val_correct, val_count = t.world.sum(val.loss_sum, val.correct, val.count)
    val_loss, val_accuracy = val_loss_sum / val_count, val_correct / val_count
    tested = {}
    if t.test_x is not None:
        test = _score(t, t.test_x, t.test_y)
        test_loss_sum, test_correct, test_count = t.world.sum(
            test.loss_sum, test.correct, test.count
        )
        tested = {
            "test_loss": round(test_loss_sum / test_count, 6),
            "test_accuracy": round(test_correct / test_count, 6),
        }
    t.say(
        f"[Epoch {epoch + 1}] eval accuracy: {val_accuracy:.4f}, loss: {val_loss:.4f}"
        + (f"; held-out {t.config.holdout_domain}: {tested['test_accuracy']:.4f}" if tested else "")
    )
    row = {
        "epoch": epoch + 1,
        "train_loss": round(loss_sum / seen, 6),
        "train_accuracy": round(correct / seen, 6),
        "val_loss": round(val_loss, 6),
        "val_accuracy": round(val_accuracy, 6),
        **tested,
        "lr": t.optimizer.param_groups[0]["lr"],
        "seconds": round(sums.seconds, 3),
        "images_per_second": round(seen / sums.seconds, 1),
    }
    return row, val_accuracy


def _score(t: Training, images: torch.Tensor, labels: torch.Tensor) -> Evaluation:
    return evaluate(
        t.net,
        images,
        labels,
        t.config.batch_size,
        t.device,
        precision=t.config.precision,
        memory_format=t.layout,
        mean=t.mean,
        std=t.std,
    )


@torch.no_grad()
def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    device: torch.device,
    *,
    precision: str = "fp32",
    memory_format: torch.memory_format = torch.contiguous_format,
    mean: Sequence[float] = PACS_MEAN,
    std: Sequence[float] = PACS_STD,
) -> Evaluation:
    """Summed loss, correct count and predicted labels over `images`, in eval mode."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    predictions = []
    for start in range(0, len(labels), batch_size):
        x = normalize(images[start : start + batch_size].to(device), mean, std)
        y = labels[start : start + batch_size].to(device)
        with autocast(device, precision):
            logits = model(x.contiguous(memory_format=memory_format))
        loss_sum += nn.functional.cross_entropy(logits.float(), y, reduction="sum").double()
        predictions.append(logits.argmax(1))
    model.train(was_training)
    predicted = torch.cat(predictions).cpu() if predictions else torch.empty(0, dtype=torch.int64)
    correct = int((predicted == labels.cpu()).sum())
    return Evaluation(loss_sum.item(), correct, len(labels), predicted)


# -- checkpoint ------------------------------------------------------------------------------


@contextlib.contextmanager
def _timed_checkpoint(t: Training) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        t.checkpoint_seconds += time.perf_counter() - started


def _checkpoint_epoch(t: Training, epoch: int, row: dict[str, Any], val_accuracy: float) -> None:
    """Record the epoch: metrics.csv now; best.pt and last.pt in the background, when due and
    no write is in flight (best.pt's weights are kept until then)."""
    t.schedule.step()  # the next epoch's learning rate, saved with last.pt
    t.rows.append(row)
    improved = val_accuracy > t.best["best_accuracy"]
    if improved:
        t.best.update(best_accuracy=val_accuracy, best_epoch=epoch + 1)
    if not t.world.is_main:
        return
    with _timed_checkpoint(t):
        if improved:
            t.best_weights = t.best_state = snapshot(t.model.state_dict())
        t.run.write_metrics(t.rows)
        due = (epoch + 1) % t.config.checkpoint_every == 0
        if due and not t.writer.busy:
            _save_in_background(t, epoch + 1)


def _save_now(t: Training, epoch: int, position: dict[str, Any] | None = None) -> None:
    """Write last.pt (and a pending best.pt) for `epoch` and wait until it is on disk."""
    with _timed_checkpoint(t):
        t.writer.wait()
        if t.saved_epoch != epoch or position is not None or t.best_weights is not None:
            _save_in_background(t, epoch, position)
            t.writer.wait()


def _save_in_background(t: Training, epoch: int, position: dict[str, Any] | None = None) -> None:
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


def _wait_quietly(t: Training) -> None:
    """Let the write in flight finish (it holds a consistent state); its error is reported
    by whoever waits next, not here, while another error is on its way out."""
    with contextlib.suppress(Exception):
        t.writer.wait()


@contextlib.contextmanager
def _writes_reported(t: Training) -> Iterator[None]:
    """A write that fails in the epochs (here or in the writer thread) stops the run with a
    message saying what is kept and how to go on, not a traceback."""
    try:
        yield
    except BaseException as error:
        if t.world.is_main:
            _wait_quietly(t)
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
    if "optimizer" not in checkpoint.state:  # best.pt keeps the weights only
        last = checkpoint.path.parent / "last.pt"
        raise UserError(
            f"cannot resume from {checkpoint.path}: it holds the best weights only, without the "
            f"optimizer and the position a run continues from; resume from the run directory "
            f"({checkpoint.path.parent}) or its {last.name}"
        )
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


def _finish_or_hint(t: Training, stop: StopRequest) -> None:
    """The last checkpoint, figures and summary. A Ctrl-C now lets them finish (training is
    over); a second one stops, saying how `--resume` writes what is missing."""
    stop.requested = False
    stop.message = "finishing the run: last.pt, figures, summary.json (Ctrl-C again to stop now)"
    try:
        hooks.before_finish()
        with _timed_checkpoint(t):
            t.writer.wait()
            if t.saved_epoch != t.config.epochs or t.best_weights is not None:
                _save_in_background(t, t.config.epochs)  # written while the figures are drawn
        _finish(t)
    except KeyboardInterrupt:
        _wait_quietly(t)
        t.say(_hard_stop_hint(t) + " (this writes the summary and figures)")
        raise


def _best_model(t: Training) -> nn.Module:
    """The best weights, from memory when this process found them (best.pt may be in writing)."""
    if t.best_state is None:
        return load_checkpoint(t.run.best).build_model()
    model = compile_spec(t.resolved)
    model.load_state_dict(to_cpu(t.best_state))
    return model.eval()


def _finish(t: Training) -> None:
    """Figures and summary.json from the best model; summary.json marks the run finished."""
    from archspec.summary import summarize
    from runner.figures import plot_confusion, plot_curves

    run, config, data = t.run, t.config, t.data
    best = _best_model(t)
    stats = summarize(best, t.resolved)
    best.to(device=t.device, memory_format=t.layout)
    val = evaluate(
        best,
        data.val_images,
        data.val_labels,
        config.batch_size,
        t.device,
        precision=config.precision,
        memory_format=t.layout,
        mean=t.mean,
        std=t.std,
    )
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
    with _timed_checkpoint(t):
        t.writer.wait()  # last.pt and best.pt on disk before summary.json says "finished"
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
            "checkpoint_seconds": round(t.checkpoint_seconds, 3),
            **_held_out_summary(t),
        }
    )
    print(
        f"best eval accuracy {t.best['best_accuracy']:.4f} at epoch {t.best['best_epoch']}; "
        f"see {run.path}"
    )


def _held_out_summary(t: Training) -> dict[str, Any]:
    """The held-out domain's accuracy at the epoch chosen on the source domains, and apart from
    it, labelled, the oracle: the best of any epoch, which only a peek at the test labels finds."""
    if t.config.holdout_domain is None or not t.rows:
        return {}
    tests = {int(r["epoch"]): float(r["test_accuracy"]) for r in t.rows}
    oracle_epoch = max(tests, key=lambda epoch: (tests[epoch], -epoch))
    return {
        "holdout_domain": t.config.holdout_domain,
        "selection": "training-domain validation: the epoch with the best accuracy on the "
        "source domains' validation images",
        "test_accuracy": tests[t.best["best_epoch"]],
        "oracle_test_accuracy": tests[oracle_epoch],
        "oracle_epoch": oracle_epoch,
    }
