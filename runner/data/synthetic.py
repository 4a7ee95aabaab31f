"""The embedded dataset: a small PACS look-alike generated on the spot, so nothing is downloaded.

Four domains (rendering styles, see styles.py): photo, art_painting, cartoon, sketch.
Seven categories (plain shapes, see shapes.py): circle, cross, heart, ring, square, star,
triangle. Every picture varies the shape's position, scale, rotation and aspect, its colours and
its background, so a network has to learn the shape (category) or the style (domain).

Written in the split-folders layout, `DIR/{train,val}/<domain>/<category>/<category>_NNNN.png`,
with `DIR/archspec-synthetic.json` recording how it was made. Every picture is a function of
(seed, split, domain, category, index) alone: the same seed gives the same files.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from archspec.io import current_umask
from runner.data.cache_root import cache_root
from runner.data.errors import DataError
from runner.data.shapes import CATEGORIES, place
from runner.data.styles import DOMAINS, STYLES

SYNTHETIC_VERSION = 2  # bump when the pictures change, so caches are rebuilt
MARKER = "archspec-synthetic.json"  # written last: its presence means the set is complete
SPLITS = ("train", "val")


def render(seed: int, split: str, domain: str, category: str, index: int, size: int) -> np.ndarray:
    """One (size, size, 3) uint8 picture, a pure function of its arguments."""
    # Integers only: a SeedSequence of them is the same on every machine and Python run.
    rng = np.random.default_rng(
        [seed, SPLITS.index(split), DOMAINS.index(domain), CATEGORIES.index(category), index]
    )
    return STYLES[domain](place(category, rng, size), rng, size)


def write_synthetic(
    root: Path,
    *,
    seed: int = 0,
    train_per_class: int = 40,
    val_per_class: int = 10,
    size: int = 227,
) -> Path:
    """Write the synthetic dataset into `root` (created if needed) and return `root`.

    `root` must be empty or missing; a folder already holding this very dataset (same version
    and parameters) is left as it is. Anything else is refused, so nothing of the user's is
    overwritten.
    """
    root = Path(root)
    recipe = {
        "version": SYNTHETIC_VERSION,
        "seed": seed,
        "train_per_class": train_per_class,
        "val_per_class": val_per_class,
        "size": size,
    }
    if root.is_dir() and any(root.iterdir()):
        marker = root / MARKER
        if marker.is_file() and _read_recipe(marker) == recipe:
            return root
        raise DataError(
            f"{root} is not empty and does not hold the synthetic dataset {recipe}: "
            "choose an empty or missing folder"
        )
    counts = {"train": train_per_class, "val": val_per_class}
    for split in SPLITS:
        for domain in DOMAINS:
            for category in CATEGORIES:
                folder = root / split / domain / category
                folder.mkdir(parents=True, exist_ok=True)
                for index in range(counts[split]):
                    picture = render(seed, split, domain, category, index, size)
                    # compress_level 1: a third of the default's time, files ~10% larger.
                    Image.fromarray(picture).save(
                        folder / f"{category}_{index:04d}.png", compress_level=1
                    )
    (root / MARKER).write_text(json.dumps(recipe, indent=2) + "\n")
    return root


def _read_recipe(marker: Path) -> dict | None:
    try:
        return json.loads(marker.read_text())
    except (OSError, ValueError):
        return None


def default_cache_dir() -> Path:
    """The root of every archspec cache (see runner.data.cache_root)."""
    return cache_root()


def embedded_dataset(seed: int = 0) -> Path:
    """The default synthetic dataset, generated once into the cache and reused after that.

    Written into a temporary folder beside its final place and renamed into place, so an
    interrupted run never leaves a half-written dataset that a later run would trust.
    """
    cache = default_cache_dir()
    target = cache / f"synthetic-v{SYNTHETIC_VERSION}-seed{seed}"
    if (target / MARKER).is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=cache))
    os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp makes it private; a cache may be shared
    try:
        write_synthetic(staging, seed=seed)
        try:
            os.replace(staging, target)
        except OSError:
            # Another process may have finished first: its copy is as good as ours.
            if not (target / MARKER).is_file():
                raise DataError(
                    f"cannot put the synthetic dataset at {target}: a folder is in the way; "
                    "delete it and run again"
                ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
