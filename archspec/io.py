"""Writing files so that an interrupted write never leaves a half-written file behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from archspec.errors import UserError


def write_atomic(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call `write` on a temporary file beside `path`, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(
            tmp, 0o666 & ~current_umask()
        )  # mkstemp makes it private; give it a new file's mode
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def current_umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def nearest_existing(path: str | Path) -> Path:
    """`path` itself if it exists, else its closest ancestor that does (what mkdir would hit)."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable_folder(folder: str | Path, flag: str, purpose: str) -> None:
    """Refuse a `folder` (given as `flag`) that is a file, lies under a file, or cannot be
    written, before any work is done. Creates nothing: the nearest existing folder on the way
    is what must be writable."""
    folder = Path(folder)
    existing = nearest_existing(folder)
    if not existing.is_dir():
        where = "is a file" if existing == folder else f"lies under {existing}, which is a file"
        raise UserError(f"{flag} {folder} {where}; give a folder for {purpose}")
    # os.access also sees a read-only file system; root passes permission bits, not that.
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(
            f"{flag} {folder}: cannot write in {existing} (read-only); "
            "give a folder you can write to"
        )
