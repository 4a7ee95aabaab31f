"""Helpers that write test inputs: small image folders in the layouts the data layer reads, and
checkpoints of seeded (untrained) models."""

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from torch import nn

from archspec.spec import Spec
from runner.checkpoint import save_checkpoint
from runner.model import seeded_model

# domain -> category -> how many images
Counts = Mapping[str, Mapping[str, int]]


def png(
    path: Path, size: tuple[int, int] = (8, 8), colour: tuple[int, int, int] = (200, 30, 90)
) -> Path:
    """A tiny solid-colour RGB PNG at `path` (folders created); size is (width, height)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture
def write_tree() -> Callable[[Path, Counts], list[Path]]:
    """write_tree(base, {domain: {category: n}}) -> the image paths written, sorted."""

    def write(base: Path, counts: Counts) -> list[Path]:
        paths = []
        for domain, categories in counts.items():
            for category, n in categories.items():
                folder = base / domain / category
                folder.mkdir(parents=True, exist_ok=True)
                for i in range(n):
                    paths.append(png(folder / f"{category}_{i:03d}.png"))
        return sorted(paths)

    return write


@pytest.fixture
def write_png() -> Callable[..., Path]:
    """write_png(path, size=(w, h), colour=(r, g, b)) -> path."""
    return png


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
