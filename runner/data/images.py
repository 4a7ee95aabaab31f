"""Decode every image once into one uint8 tensor; normalise batches later, on any device.

uint8 keeps PACS (9,991 images at 3x227x227) at 1.5 GB instead of 6 GB as float32, and makes a
DataLoader unnecessary: a batch is an index into the tensor.
"""

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision.io import ImageReadMode, decode_image, read_file
from torchvision.transforms.v2 import functional as F
from tqdm import tqdm

from archspec.text import plural
from runner.data.channels import image_mode
from runner.data.errors import DataError, bullet_list

# Measured on PACS itself (the study's numbers); the synthetic set uses them too.
PACS_MEAN = (0.7659, 0.7463, 0.7173)
PACS_STD = (0.3089, 0.3181, 0.3470)


@dataclass(frozen=True)
class Decoded:
    """What `decode_images` returns.

    images[i] is the image of paths[kept[i]]; the skipped paths are in `bad`.
    """

    images: torch.Tensor  # (N, C, H, W) uint8, RGB (C=3) or grayscale (C=1)
    kept: tuple[int, ...]  # indices into the paths given, one per image
    bad: list[Path]  # unreadable files skipped (only ever non-empty with skip_bad=True)
    resized: int  # how many images were not already `size` and were resized


def _reason(error: Exception) -> str:
    # torchvision prefixes "decode_png, /__w/vision/.../decode_png.cpp:79, ": noise for a user.
    return re.sub(r"^.*?\.cpp:\d+, ", "", str(error)).splitlines()[0]


def _decode(
    path: Path, size: tuple[int, int], mode: ImageReadMode = ImageReadMode.RGB
) -> tuple[torch.Tensor, bool]:
    """(C, H, W) uint8 and whether it was resized. Raises RuntimeError for a broken file."""
    image = decode_image(read_file(str(path)), mode=mode)  # any file -> RGB, or -> GRAY
    if image.ndim == 4:  # an animated image: its first frame
        image = image[0]
    if image.dtype != torch.uint8:  # 16-bit PNG
        image = F.to_dtype(image, torch.uint8, scale=True)
    if tuple(image.shape[-2:]) == size:
        return image, False
    return F.resize(image, list(size), antialias=True), True


def decode_images(
    paths: Sequence[Path],
    size: tuple[int, int],
    *,
    workers: int = 2,
    progress: bool = True,
    skip_bad: bool = False,
    channels: int = 3,
) -> Decoded:
    """Decode `paths` to (N, C, H, W) uint8 with (H, W) = `size`, in `workers` threads.

    `channels` is the spec's: 3 decodes RGB, 1 grayscale (see `image_mode`).

    A file that cannot be decoded is collected, never fatal on its own: after all files were
    read, the bad ones are skipped (skip_bad) or listed together in one DataError.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    size = (int(size[0]), int(size[1]))
    mode = image_mode(channels)
    images = torch.empty((len(paths), channels, *size), dtype=torch.uint8)  # (N, C, H, W)
    problems: dict[int, str] = {}
    resized = 0

    def work(i: int) -> bool:
        try:
            image, was_resized = _decode(paths[i], size, mode)
        except RuntimeError as error:  # torchvision reports unreadable files this way
            problems[i] = _reason(error)
            return False
        images[i] = image  # each thread writes its own row: no lock needed
        return was_resized

    # Threads, not processes: torchvision's decoders release the GIL, and the result is
    # written in place instead of pickled back.
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        tqdm(total=len(paths), desc="decoding", unit="img", disable=not progress) as bar,
    ):
        for was_resized in pool.map(work, range(len(paths))):
            resized += was_resized
            bar.update()

    bad = [paths[i] for i in sorted(problems)]
    if problems and not skip_bad:
        listing = bullet_list([f"{paths[i]}: {problems[i]}" for i in sorted(problems)])
        raise DataError(
            f"{plural(len(problems), 'image')} cannot be decoded:\n{listing}\n"
            "delete or replace them, or pass --skip-bad-images to train without them"
        )
    kept = tuple(i for i in range(len(paths)) if i not in problems)
    if problems:
        # Move the good rows forward in place: a copy of PACS would need another 1.5 GB.
        for row, i in enumerate(kept):
            if row != i:
                images[row] = images[i]
        images = images[: len(kept)]
    return Decoded(images=images, kept=kept, bad=bad, resized=resized)


def normalize(
    batch: torch.Tensor,
    mean: Sequence[float] = PACS_MEAN,
    std: Sequence[float] = PACS_STD,
) -> torch.Tensor:
    """(B, 3, H, W) uint8 -> float32 (x / 255 - mean) / std, on the batch's device."""
    if batch.dtype != torch.uint8:
        raise TypeError(f"normalize expects a uint8 batch, got {batch.dtype}")
    return F.normalize(F.to_dtype(batch, torch.float32, scale=True), list(mean), list(std))
