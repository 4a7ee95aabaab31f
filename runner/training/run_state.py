"""What one training run carries from phase to phase: its model, data, optimizer and
bookkeeping (Training), an epoch's running sums and an evaluation's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import DistributedSampler

from archspec.shapes import ResolvedSpec
from archspec.spec import Spec
from runner.training.augment import Augmenter
from runner.training.batches import BatchMaker
from runner.training.checkpoint_writer import CheckpointWriter
from runner.training.config import TrainConfig
from runner.training.device import (
    torch_memory_format,
)
from runner.training.distributed import World
from runner.training.prepare import PreparedData
from runner.training.recipe import Recipe
from runner.training.rundir import RunDir


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
    """Everything one run holds while it trains; built by `set_up`, advanced by the epochs."""

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
