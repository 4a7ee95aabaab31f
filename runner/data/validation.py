"""The validation images a trained run is measured on (CKA, attention distance): those of its
own split, held-out domain included, in a seeded shuffle so a few still span every domain."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from archspec.errors import UserError
from archspec.text import plural
from runner.data import decode_images, discover, embedded_dataset

MIN_IMAGES = 4  # the unbiased HSIC estimator needs 4 images in every batch


@dataclass(frozen=True)
class ImageSet:
    paths: tuple[Path, ...]
    what: str  # e.g. "280 validation images of /data/pacs"

    def decoded(self, size: tuple[int, int], channels: int = 3) -> torch.Tensor:
        """(N, C, H, W) uint8 at the model's input size and channels."""
        return decode_images(list(self.paths), size, progress=False, channels=channels).images


def validation_images(config: dict[str, Any], count: int | None, data: Path | None) -> ImageSet:
    """`count` (all if None) of the validation images of the run whose config is `config`, or of
    `data` when given, in a seeded shuffle so a few images still span every domain and category."""
    if count is not None and count < MIN_IMAGES:
        raise UserError(f"--images must be at least {MIN_IMAGES} (the unbiased CKA estimator "
                        f"needs {MIN_IMAGES} images a batch), got {count}")  # fmt: skip
    own = data is None  # the run's own data: its own validation split, held-out domain included
    if own and config.get("data") is not None:
        data = Path(config["data"])
    root = embedded_dataset(seed=0) if data is None else data
    dataset = discover(
        root,
        seed=int(config.get("seed") or 0),
        val_fraction=float(config.get("val_fraction") or 0.2),
        holdout_domain=config.get("holdout_domain") if own else None,
    )
    # A held-out-domain run is tested on its held-out domain: images it never trained on.
    samples = [s.path for s in (dataset.test or dataset.val)]
    if count is not None and count > len(samples):
        raise UserError(
            f"--images {count}: the validation set of {root} holds only "
            f"{plural(len(samples), 'image')}; "
            f"give --images {len(samples)} or fewer"
        )
    if len(samples) < MIN_IMAGES:
        raise UserError(f"{root} has {len(samples)} validation images; CKA needs {MIN_IMAGES}")
    order = torch.randperm(len(samples), generator=torch.Generator().manual_seed(0))
    chosen = tuple(samples[i] for i in order[: count or len(samples)].tolist())
    where = "the embedded synthetic set" if data is None else str(root)
    return ImageSet(chosen, f"{len(chosen)} validation images of {where}")
