"""`--tensorboard`: a run's training, as TensorBoard shows it, in `<run>/tensorboard/`.

- per epoch: losses, accuracies, learning rate and images/s (metrics.csv's row, as scalars);
- at each new best epoch: the first conv layer's filters as one image (colour patches when it
  reads RGB, else its first input channel in grey), each filter min-max scaled on its own;
- when the run finishes: its settings and final metrics as hparams, so `tensorboard --logdir
  <sweep out>` compares every run of a sweep in one table.

Needs the optional extra `archspec[tensorboard]`; the runner imports this module only when asked.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archspec.errors import UserError

FOLDER = "tensorboard"
SCALARS = {  # metrics.csv column -> TensorBoard tag
    "train_loss": "loss/train",
    "val_loss": "loss/val",
    "train_accuracy": "accuracy/train",
    "val_accuracy": "accuracy/val",
    "lr": "lr",
    "images_per_second": "images_per_second",
}
FILTERS_TAG = "filters/first conv layer"
HPARAMS = ("spec", "task", "data", "epochs", "batch_size", "lr", "weight_decay", "seed",
           "holdout_domain", "val_fraction")  # fmt: skip
METRICS = ("best_val_accuracy", "best_epoch", "final_val_accuracy", "seconds_per_epoch")


def require_tensorboard() -> None:
    """UserError unless the tensorboard package is installed (before anything is trained)."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise UserError(
            "--tensorboard needs the tensorboard package, which is not installed: "
            "pip install 'archspec[tensorboard]'"
        ) from None


def filter_image(weight: torch.Tensor, pixels: int = 24) -> torch.Tensor:
    """(out, in, kh, kw) conv weight -> (3, H, W) grid in [0, 1], one cell per filter."""
    from torchvision.utils import make_grid

    w = weight.detach().float().cpu()
    w = w if w.shape[1] == 3 else w[:, :1].expand(-1, 3, -1, -1)  # RGB, else grey
    low = w.amin(dim=(1, 2, 3), keepdim=True)
    high = w.amax(dim=(1, 2, 3), keepdim=True)
    w = (w - low) / (high - low).clamp_min(1e-12)
    scale = max(1, pixels // w.shape[-1])  # small kernels made big enough to see
    w = nn.functional.interpolate(w, scale_factor=scale, mode="nearest")
    return make_grid(w, nrow=math.ceil(math.sqrt(len(w))), padding=1, pad_value=1.0)


def first_conv(model: nn.Module) -> nn.Conv2d | None:
    return next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)


class TensorBoardLog:
    """Writes one run's events; `epoch` after each epoch, `finish` once the run is finished."""

    def __init__(self, run_dir: Path):
        require_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        self.folder = Path(run_dir) / FOLDER
        self.writer = SummaryWriter(log_dir=str(self.folder))

    def epoch(self, row: dict[str, Any], model: nn.Module, is_best: bool) -> None:
        step = int(row["epoch"])
        for column, tag in SCALARS.items():
            self.writer.add_scalar(tag, float(row[column]), step)
        conv = first_conv(model)
        if is_best and conv is not None:
            self.writer.add_image(FILTERS_TAG, filter_image(conv.weight), step)
        self.writer.flush()

    def finish(self, config: dict[str, Any], summary: dict[str, Any]) -> None:
        """The run's settings and final metrics; after the epochs' writer may have closed."""
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        settings = {k: "none" if config.get(k) is None else config[k] for k in HPARAMS}
        metrics = {f"hparam/{k}": float(summary[k]) for k in METRICS if summary.get(k) is not None}
        with SummaryWriter(log_dir=str(self.folder)) as writer:
            for event in hparams(settings, metrics):  # experiment, session start, session end
                writer.file_writer.add_summary(event)
            for tag, value in metrics.items():
                writer.add_scalar(tag, value, int(summary.get("epochs", 0)))

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> TensorBoardLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NoLog:
    """What the training loop holds without --tensorboard: every call does nothing."""

    def epoch(self, row: dict[str, Any], model: nn.Module, is_best: bool) -> None:
        pass

    def finish(self, config: dict[str, Any], summary: dict[str, Any]) -> None:
        pass

    def __enter__(self) -> NoLog:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def tensorboard_log(run_dir: Path | None) -> TensorBoardLog | NoLog:
    """A log in `run_dir`, or NoLog for None (no --tensorboard, or not the main process)."""
    return NoLog() if run_dir is None else TensorBoardLog(run_dir)
