"""A synthetic set of any size for the benchmarks, drawn on every core.

The embedded set's pictures (runner.data.synthetic.render) in its split-folders layout, as PNG
(like the embedded set) or JPEG (like PACS). `archspec data synth` draws on one core; a PACS-sized
set (about 10,000 pictures) would take minutes that way, and seconds this way.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import timing  # noqa: F401  (puts the repository on the path)
from PIL import Image

from runner.data.shapes import CATEGORIES
from runner.data.styles import DOMAINS
from runner.data.synthetic import render

CLASSES = len(DOMAINS) * len(CATEGORIES)  # 28


def _draw(job: tuple[str, str, str, str, int, int, str]) -> None:
    root, split, domain, category, index, size, suffix = job
    folder = Path(root) / split / domain / category
    picture = Image.fromarray(render(0, split, domain, category, index, size))
    path = folder / f"{category}_{index:04d}.{suffix}"
    if suffix == "png":
        picture.save(path, compress_level=1)
    else:
        picture.save(path, quality=90)


def write_set(root: Path, train: int, val: int, size: int = 227, jpeg: bool = False) -> Path:
    """At least `train` and `val` pictures (rounded up to whole classes) under `root`."""
    jobs = []
    for split, count in (("train", train), ("val", val)):
        per_class = max(1, math.ceil(count / CLASSES))
        for domain in DOMAINS:
            for category in CATEGORIES:
                (root / split / domain / category).mkdir(parents=True, exist_ok=True)
                for index in range(per_class):
                    jobs.append(
                        (str(root), split, domain, category, index, size, "jpg" if jpeg else "png")
                    )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with ProcessPoolExecutor(max_workers=cores) as pool:
        list(pool.map(_draw, jobs, chunksize=16))
    # Dated a minute back, like any set not written this very second: the decoded-image cache
    # does not store files modified in the last seconds (they could change again unseen).
    past = time.time() - 60
    for path in root.rglob("*"):
        os.utime(path, (past, past))
    return root


def image_paths(root: Path, split: str = "train") -> list[Path]:
    return sorted(p for p in (root / split).rglob("*") if p.suffix in (".png", ".jpg"))
