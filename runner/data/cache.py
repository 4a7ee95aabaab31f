"""The decoded-image cache: decode a set of files once, map it from disk in every later run.

One file per (list of files, image size, channel count, decoder), under
`$ARCHSPEC_DECODED_CACHE` (default: the cache folder's `decoded/`; "off" turns the cache off):

    images-<key>.bin = the (N, C, H, W) uint8 array, then a JSON trailer (the key, the shape, a
                       CRC-32 per 64 MiB of the array, which files were bad), then the trailer's
                       length and a magic line at the very end

The key hashes every file's path, size, modification and change times, so editing, replacing or
touching an image makes a new entry. A file is written under a temporary name and renamed into
place when complete (a reader sees all of it or none), and is checked before use: magic, key,
exact length and every checksum; anything else is decoded afresh and replaced. Two processes
filling the same entry take turns on a lock file, so the second one reads what the first wrote.

The array is memory-mapped, never read into memory as a whole: a set larger than memory is
decoded straight into the file and streams from it (the OS keeps what fits in its page cache).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import os
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torchvision

from archspec.io import current_umask
from runner.data.images import (
    Decoded,
    _gpu_jpeg_device,
    available_cores,
    decode_images,
    undecodable,
)
from runner.data.synthetic import default_cache_dir

try:  # POSIX; elsewhere two processes may both decode, and the rename still keeps it whole
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

# Bump when the file layout or the decoding changes, so old entries are ignored (2: pictures
# turned upright by their EXIF orientation).
FORMAT = 2
MAGIC = b"ARCHSPEC-DECODED-IMAGES-1\n"
LENGTH_DIGITS = 16  # the trailer's length, as ASCII digits, just before the magic line
CHUNK = 64 * 2**20  # bytes per checksum: checked in parallel, one thread per core
FRESH_SECONDS = 2.0  # files modified this recently are not cached (see `_key`)
UNUSED_DAYS = 30  # entries no run has used for this long are deleted when a new one is written
ENV = "ARCHSPEC_DECODED_CACHE"


@dataclass(frozen=True)
class Lookup:
    """What `decode_cached` did: the images and where they came from, in words for the user."""

    decoded: Decoded
    path: Path | None  # the cache file the images are mapped from; None if not cached
    status: str  # "hit", "written", or "not cached: <why>"


def cache_folder() -> Path | None:
    """Where decoded images are kept: $ARCHSPEC_DECODED_CACHE, else <cache>/decoded; None = off."""
    value = os.environ.get(ENV)
    if value is not None:
        if value.strip().lower() in ("", "0", "off", "no", "false"):
            return None
        return Path(value).expanduser()
    return default_cache_dir() / "decoded"


# Long: every way the cache can be unusable (off, read-only, files just changed, disk full)
# falls back to plain decoding where its reason is known, so each reason is said where it is found.
def decode_cached(
    paths: Sequence[Path],
    size: tuple[int, int],
    *,
    channels: int = 3,
    workers: int | None = None,
    progress: bool = True,
    skip_bad: bool = False,
    jpeg_device: torch.device | str | None = None,
    folder: Path | None = None,
) -> Lookup:
    """`decode_images` through the cache in `folder` (default `cache_folder()`).

    Same arguments and errors as `decode_images`; a cached set with broken files raises the
    same DataError unless `skip_bad`, as decoding it again would.
    """
    folder = cache_folder() if folder is None else Path(folder)
    size = (int(size[0]), int(size[1]))
    decoder = "nvjpeg" if _gpu_jpeg_device(jpeg_device) is not None else "cpu"

    # The decoding itself, the same whether it fills the cache (out=...) or not.
    decode = functools.partial(
        decode_images,
        paths,
        size,
        workers=workers,
        progress=progress,
        skip_bad=skip_bad,
        channels=channels,
        jpeg_device=jpeg_device,
    )

    def plain(why: str) -> Lookup:
        return Lookup(decode(), None, f"not cached: {why}")

    if folder is None:
        return plain(f"{ENV} is off")
    if not paths:
        return plain("no files")
    key, fresh = _key(paths, size, channels, decoder)
    if key is None:
        return plain("a file cannot be read")  # decoding names it
    entry = folder / f"images-{key[:40]}.bin"
    with contextlib.ExitStack() as stack:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            stack.enter_context(_locked(folder / f".images-{key[:40]}.lock"))
        except OSError as error:
            # A read-only cache still serves what it holds; it just takes nothing new.
            found = read_entry(entry, key, paths, size, channels)
            if not isinstance(found, Decoded):
                return plain(f"cannot use {folder} ({error.strerror or error})")
        else:
            found = read_entry(entry, key, paths, size, channels)
        if isinstance(found, Decoded):
            _touch(entry)
            if found.problems and not skip_bad:
                raise undecodable(paths, dict(found.problems))
            return Lookup(found, entry, "hit")
        if fresh:
            # A file changed in the last seconds could change again within the same clock
            # tick, unseen by its modification time: use this decoding, store none.
            return plain("files were modified in the last seconds")
        try:
            return _fill(entry, key, paths, size, channels, decode, found)
        except OSError as error:  # out of disk space, say: decode into memory instead
            return plain(f"cannot write {entry} ({error.strerror or error})")


def _key(
    paths: Sequence[Path], size: tuple[int, int], channels: int, decoder: str
) -> tuple[str | None, bool]:
    """(hex digest naming the decoded array, whether a file was modified just now).

    The digest covers each file's path, size, mtime and ctime (ns), the image size, the channel
    count, the decoder and torchvision's version (its resizing defines the pixels).
    """
    digest = hashlib.sha256()
    header = {
        "format": FORMAT,
        "size": list(size),
        "channels": channels,
        "decoder": decoder,
        "torchvision": torchvision.__version__,
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    newest = 0
    for path in paths:
        try:
            stat = os.stat(path)
        except OSError:
            return None, False
        newest = max(newest, stat.st_mtime_ns)
        digest.update(f"\0{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ctime_ns}".encode())
    fresh = newest > time.time_ns() - FRESH_SECONDS * 1e9
    return digest.hexdigest(), fresh


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) for the block."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:  # a file system without locks: the atomic rename still protects
            yield
            return
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_entry(
    entry: Path, key: str, paths: Sequence[Path], size: tuple[int, int], channels: int
) -> Decoded | str:
    """The cached images mapped from `entry`, or why the file cannot be used ("missing", ...)."""
    try:
        with open(entry, "rb") as f:
            total = os.fstat(f.fileno()).st_size
            tail = len(MAGIC) + LENGTH_DIGITS
            if total < tail:
                return "damaged (too short)"
            f.seek(total - tail)
            end = f.read(tail)
            if end[LENGTH_DIGITS:] != MAGIC or not end[:LENGTH_DIGITS].isdigit():
                return "damaged (no end marker: cut short or not a cache file)"
            length = int(end[:LENGTH_DIGITS])
            if length > total - tail:
                return "damaged (trailer longer than the file)"
            f.seek(total - tail - length)
            trailer = json.loads(f.read(length))
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError) as error:
        return f"unreadable ({error})"
    try:
        kept = tuple(int(i) for i in trailer["kept"])
        problems = tuple((int(i), str(why)) for i, why in trailer["problems"])
        bad = [Path(paths[i]) for i, _ in problems]
        resized = int(trailer["resized"])
    except (KeyError, TypeError, ValueError, IndexError):
        return "damaged (trailer)"
    shape = (len(kept), channels, *size)
    nbytes = int(np.prod(shape))
    if trailer.get("key") != key or trailer.get("shape") != list(shape):
        return "damaged (another key or shape)"
    if nbytes != total - tail - length or trailer.get("nbytes") != nbytes:
        return "damaged (wrong length)"
    if nbytes == 0:  # every file was broken: nothing to map
        images = torch.empty(shape, dtype=torch.uint8)
    else:
        array = np.memmap(entry, dtype=np.uint8, mode="c", shape=shape)  # copy-on-write: lazy
        if _checksums(array) != trailer.get("crc32"):
            return "damaged (checksum)"
        images = torch.from_numpy(array)
    return Decoded(images, kept, bad, resized, problems, cached=True)


def _checksums(array: np.ndarray) -> list[int]:
    """CRC-32 of every CHUNK bytes of `array`, computed by one thread per core (zlib lets go
    of the GIL), so checking 1.5 GB takes a fraction of a second."""
    flat = array.reshape(-1)
    starts = range(0, flat.size, CHUNK)
    with ThreadPoolExecutor(max_workers=min(available_cores(), max(1, len(starts)))) as pool:
        return list(pool.map(lambda s: zlib.crc32(memoryview(flat[s : s + CHUNK])), starts))


def _fill(
    entry: Path,
    key: str,
    paths: Sequence[Path],
    size: tuple[int, int],
    channels: int,
    decode: Callable[..., Decoded],
    found: str,
) -> Lookup:
    """Decode `paths` (`decode(out=...)`) straight into a new file beside `entry`, finish it, and
    rename it into place."""
    shape = (len(paths), channels, *size)
    handle, name = tempfile.mkstemp(prefix=f".{entry.stem}-", suffix=".tmp", dir=entry.parent)
    temporary = Path(name)
    try:
        with os.fdopen(handle, "r+b") as f:
            _allocate(f, int(np.prod(shape)))
            target = np.memmap(f, dtype=np.uint8, mode="r+", shape=shape)
            decoded = decode(out=torch.from_numpy(target))
            kept = target[: len(decoded.kept)]
            kept.flush()
            trailer = {
                "key": key,
                "shape": [len(decoded.kept), channels, *size],
                "nbytes": kept.size,
                "crc32": _checksums(kept),
                "kept": list(decoded.kept),
                "problems": [list(p) for p in decoded.problems],
                "resized": decoded.resized,
            }
            del target, kept
            text = json.dumps(trailer).encode()
            f.truncate(trailer["nbytes"])  # the rows of skipped files go
            f.seek(trailer["nbytes"])
            f.write(text + f"{len(text):0{LENGTH_DIGITS}d}".encode() + MAGIC)
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename makes it visible
        os.chmod(
            temporary, 0o666 & ~current_umask()
        )  # mkstemp makes it private; a cache may be shared
        os.replace(temporary, entry)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _prune(entry.parent, keep=entry)
    mapped = read_entry(entry, key, paths, size, channels)
    if not isinstance(mapped, Decoded):  # replaced meanwhile by something unreadable
        # Not the temporary file's mapping: it is the cache file now, and shared.
        images = decoded.images.clone()
        return Lookup(replace(decoded, images=images), None, f"not cached: {entry} is {mapped}")
    status = "written" if found == "missing" else f"written (the old file was {found})"
    return Lookup(mapped, entry, status)


def _allocate(f, nbytes: int) -> None:
    """Give the file its length, with the disk space reserved where the OS can: writing into
    a memory-mapped hole on a full disk kills the process (SIGBUS) instead of raising."""
    if hasattr(os, "posix_fallocate") and nbytes:
        try:
            os.posix_fallocate(f.fileno(), 0, nbytes)
            return
        except OSError as error:
            if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise  # ENOSPC: no room, say so before decoding anything
    f.truncate(nbytes)


def _touch(entry: Path) -> None:
    """Mark an entry used, so pruning keeps it (a read-only cache is fine too)."""
    with contextlib.suppress(OSError):
        os.utime(entry)


def _prune(folder: Path, keep: Path) -> None:
    """Delete entries unused for UNUSED_DAYS and temporary files left by killed runs."""
    now = time.time()
    for path in folder.glob("images-*.bin"):
        with contextlib.suppress(OSError):
            if path != keep and now - path.stat().st_mtime > UNUSED_DAYS * 86400:
                path.unlink()
    for path in folder.glob(".images-*.tmp"):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > 86400:  # a day: no live run is that slow to fill
                path.unlink()
