"""Helpers the runner tests share: a small spec, and a checkpoint written without training."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from archspec.spec import Spec
from runner.training.checkpoint import save_checkpoint
from runner.training.model import seeded_model

# 3x24x24 input, one conv block, a two-layer classifier ending in num_classes; trains in seconds.
SMALL_SPEC = """\
name: Small
input_shape: [3, 24, 24]
sections:
  features:
    - Conv2d: {out_channels: 6, kernel_size: 5, stride: 2}
    - ReLU: {inplace: true}
    - MaxPool2d: {kernel_size: 2}
  classifier:
    - Dropout: {p: 0.3}
    - Linear: {out_features: 16}
    - ReLU
    - Linear: {out_features: num_classes}
"""


def write_checkpoint(
    path: Path,
    spec: Spec,
    labels: Sequence[str],
    *,
    task: str = "domain",
    seed: int = 0,
    epoch: int = 1,
    config: dict[str, Any] | None = None,
    model: nn.Module | None = None,
) -> Path:
    """Save `model`, or else the seeded start of `spec` for `labels`, as a checkpoint at `path`;
    `config` ({} unless given) is what the run records, its seed included. Returns `path`."""
    if model is None:
        model = seeded_model(spec, len(labels), seed)
    save_checkpoint(
        path,
        spec=spec,
        task=task,
        labels=labels,
        model_state=model.state_dict(),
        config={} if config is None else config,
        epoch=epoch,
    )
    return path
