"""Turn a run's data flags into tensors: images decoded once (and cached on disk), labels."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from archspec.text import plural
from runner.data import (
    DataError,
    check_task,
    discover,
    embedded_dataset,
    label_names,
    labels,
)
from runner.data.cache import decode_cached
from runner.data.channels import check_channels
from runner.data.images import UndecodableImages
from runner.training.config import TrainConfig


@dataclass(frozen=True)
class PreparedData:
    train_images: torch.Tensor  # (N, C, H, W) uint8, maybe memory-mapped from the cache
    train_labels: torch.Tensor  # (N,) int64
    val_images: torch.Tensor
    val_labels: torch.Tensor
    labels: tuple[str, ...]  # class names in label order
    root: Path
    notes: tuple[str, ...]  # said once to the user before training
    # The held-out domain's images: only ever tested, never used to choose. Empty without one.
    test_images: torch.Tensor | None = None
    test_labels: torch.Tensor | None = None


# Long: find, split, decode each split and check what is left, in that order, collecting the
# notes the run prints; the broken images of every split are named together.
def prepare_data(
    config: TrainConfig,
    size: tuple[int, int],
    *,
    progress: bool,
    channels: int = 3,
) -> PreparedData:
    """Find, split, decode and label the run's data.

    `channels` (3 = RGB, 1 = grayscale) is what every image becomes.
    """
    check_channels(channels, config.spec)  # before anything is decoded
    root = Path(config.data) if config.data is not None else embedded_dataset(seed=0)
    dataset = discover(
        root,
        seed=config.seed,
        val_fraction=config.val_fraction,
        holdout_domain=config.holdout_domain,
    )
    check_task(dataset, config.task)
    names = label_names(dataset, config.task)
    notes = (
        [f"data: {root} ({dataset.layout} layout)"]
        if config.data
        else [f"data: the embedded synthetic dataset at {root}"]
    )
    notes += dataset.notes
    decoded = []
    splits = [("train", dataset.train), ("val", dataset.val)]
    if dataset.test:
        splits.append(("test", dataset.test))
    broken: list[tuple[Path, str]] = []  # over every split, named together
    for split, samples in splits:
        started = time.perf_counter()
        try:
            lookup = decode_cached(
                [s.path for s in samples],
                size,
                channels=channels,
                workers=config.workers,
                progress=progress,
                skip_bad=config.skip_bad_images,
            )
        except UndecodableImages as error:
            broken += error.broken
            continue
        seconds = time.perf_counter() - started
        result = lookup.decoded
        kept = [samples[i] for i in result.kept]
        notes.append(_decode_note(split, len(samples), seconds, lookup.status, lookup.path))
        if result.bad:
            notes.append(f"{split}: skipped {plural(len(result.bad), 'unreadable image')}")
        if result.resized:
            notes.append(
                f"{split}: resized {result.resized} of {plural(len(samples), 'image')} to "
                f"{size[0]}x{size[1]}, the spec's input size"
            )
        decoded.append((result.images, labels(kept, names, config.task)))
    if broken:
        raise UndecodableImages(broken)
    (train_x, train_y), (val_x, val_y), *test = decoded
    if len(val_y) == 0:  # nothing to choose the best epoch by, nor to report
        raise DataError(
            f"no validation images in {root} ({dataset.layout} layout; "
            f"{plural(len(train_y), 'training image')}): without a split of its own, a folder "
            "gives validation images only when it holds 2 or more images; add images, or give "
            "validation images (val/ folders, or the split files' crossval lists)"
        )
    tested = f", test: {plural(len(test[0][1]), 'image')}" if test else ""
    notes.append(
        f"train: {plural(len(train_y), 'image')}, val: {plural(len(val_y), 'image')}{tested}, "
        f"{plural(len(names), f'{config.task} class', f'{config.task} classes')} "
        f"({', '.join(names)})"
    )
    test_x, test_y = test[0] if test else (None, None)
    return PreparedData(train_x, train_y, val_x, val_y, names, root, tuple(notes), test_x, test_y)


def _decode_note(split: str, count: int, seconds: float, status: str, path: Path | None) -> str:
    images = plural(count, "image")
    if status == "hit":
        return f"{split}: {images} read decoded from the cache {path} ({seconds:.2f} s)"
    rate = f"{count / seconds:.0f} img/s" if seconds > 0 else "at once"
    where = f", cached in {path}" if path is not None else f" ({status})"
    return f"{split}: decoded {images} in {seconds:.1f} s ({rate}){where}"
