"""The set-up phase: the model, data, optimizer and device of a run, new or restored from
last.pt, and the checks that a resumed run still fits its spec and data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DistributedSampler

from archspec.errors import UserError
from archspec.layers import format_shape
from archspec.memory import check_memory
from archspec.shapes import ResolvedSpec, resolve
from archspec.spec import Spec
from archspec.text import plural
from runner.data import embedded_dataset, normalize
from runner.data.channels import check_channels, per_channel
from runner.training.augment import Augmenter
from runner.training.batches import BatchMaker
from runner.training.checkpoint import (
    Checkpoint,
    remove_partial_writes,
)
from runner.training.config import TrainConfig
from runner.training.device import (
    grad_scaler,
    resolve_precision,
    torch_memory_format,
)
from runner.training.distributed import World
from runner.training.init import TORCHVISION, load_init, read_state
from runner.training.model import seeded_model
from runner.training.optimization import build_optimizer, build_schedule
from runner.training.prepare import PreparedData, prepare_data
from runner.training.recipe import Recipe, recipe_of, statistics
from runner.training.run_state import Training
from runner.training.rundir import RunDir, default_run_name, new_run_dir
from runner.training.step import choose_memory_format


def data_device(data: PreparedData, device: torch.device) -> torch.device:
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


def set_up(
    spec: Spec,
    config: TrainConfig,
    checkpoint: Checkpoint | None,
    world: World,
    device: torch.device,
    progress: bool,
) -> Training:
    """Data, model, optimizer and run directory; from `checkpoint` when resuming.

    Longer than most: it fills the one Training record, field by field, in the order the
    fields depend on each other (data, then model, then layout, then optimizer)."""
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

    model = _model(spec, config, len(data.labels), start, say)
    if recipe.normalize is None and norm == "imagenet":
        say("normalisation: ImageNet's mean and std, as torchvision's weights were trained with")
    model.to(device)
    home = data_device(data, device)
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
        sampler=_sampler(len(data.train_labels), world, config.seed),
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


def _model(
    spec: Spec, config: TrainConfig, classes: int, start: dict | None, say: Callable[..., None]
) -> nn.Module:
    """The seeded model, with its --init weights loaded, on the CPU."""
    model = seeded_model(spec, classes, config.seed)
    if config.batch_size == 1 and _has_batchnorm(model):  # before any step, timed ones included
        raise UserError(
            f"{config.spec} has BatchNorm, which needs at least 2 images per step: give "
            "--batch-size 2 or more"
        )
    if start is not None:
        load_init(model, config.init, say, start)
    return model


def _sampler(images: int, world: World, seed: int) -> DistributedSampler:
    """Each epoch's order (seed + epoch), and this process's share of it under torchrun."""
    return DistributedSampler(
        range(images), num_replicas=world.size, rank=world.rank, shuffle=True, seed=seed
    )


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


def _resolve_for_labels(spec: Spec, labels: tuple[str, ...], config: TrainConfig) -> ResolvedSpec:
    resolved = resolve(spec, len(labels))
    if resolved.output_shape != (len(labels),):
        raise UserError(
            f"{config.spec}: the model's output is {format_shape(resolved.output_shape)} but "
            f"the {config.task} task on this data has {plural(len(labels), 'class', 'classes')} "
            f"({', '.join(labels)}); end the spec with a Linear whose out_features is num_classes"
        )
    return resolved


def check_resumable(spec: Spec, config: TrainConfig, checkpoint: Checkpoint, run: Path) -> None:
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
