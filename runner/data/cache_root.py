"""Every cache archspec keeps, under one root: $ARCHSPEC_CACHE, else $XDG_CACHE_HOME/archspec,
else ~/.cache/archspec. `archspec cache info|clear` reads and empties it.

What lives there: the embedded synthetic datasets (`synthetic-v<V>-seed<S>/`) and the decoded
images (`decoded/`, which $ARCHSPEC_DECODED_CACHE may move elsewhere or turn off). Clearing
removes only what archspec wrote, by those names, so a root pointed at a shared folder by
mistake loses nothing else. Pretrained weights are torch's hub cache, not ours.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT_ENV = "ARCHSPEC_CACHE"
DATASET_PREFIX = "synthetic-v"
DECODED = "decoded"


def cache_root() -> Path:
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "archspec"
    return Path.home() / ".cache" / "archspec"


@dataclass(frozen=True)
class CacheEntry:
    kind: str  # "datasets" or "decoded", as `archspec cache clear KIND` names them
    what: str  # in words, for `archspec cache info`
    path: Path
    size: int  # bytes
    files: int


def cache_entries(decoded_folder: Path | None) -> list[CacheEntry]:
    """What archspec keeps: each embedded dataset, and the decoded-image folder (wherever
    $ARCHSPEC_DECODED_CACHE puts it; None when it is off)."""
    root = cache_root()
    entries = []
    if root.is_dir():
        for path in sorted(root.iterdir()):
            # `.synthetic-v...-XXXX` is a dataset a killed run left half-written
            if path.is_dir() and path.name.lstrip(".").startswith(DATASET_PREFIX):
                seed = path.name.rpartition("-seed")[2]
                what = "embedded dataset" + (f", seed {seed}" if seed.isdigit() else " (partial)")
                entries.append(CacheEntry("datasets", what, path, *_usage(path)))
    if decoded_folder is not None and decoded_folder.is_dir():
        size, files = _usage(decoded_folder, "images-*.bin")
        entries.append(CacheEntry("decoded", "decoded images", decoded_folder, size, files))
    return entries


def clear(entry: CacheEntry) -> None:
    if entry.kind == "datasets":
        shutil.rmtree(entry.path)
        return
    # Only the decoded-image files: the folder may be one the user named, with other files in
    # it. A run that has one mapped keeps reading it (the file lives on until it is unmapped).
    for pattern in ("images-*.bin", ".images-*.tmp"):
        for path in entry.path.glob(pattern):
            path.unlink(missing_ok=True)


def _usage(folder: Path, pattern: str = "**/*") -> tuple[int, int]:
    size = files = 0
    for path in folder.glob(pattern):
        if path.is_file() and not path.is_symlink():
            size += path.stat().st_size
            files += 1
    return size, files
