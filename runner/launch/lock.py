"""One process at a time trains a run directory: an advisory lock file beside it.

`<out>/.<run>.lock` (hidden: it is bookkeeping, not a result) is locked with flock(2). The kernel
drops the lock when its holder exits, however it exits (Ctrl-C, SIGKILL, a cluster job
cancelled), so a lock file left behind by a dead process is stale by construction and is simply
taken again. The file holds the holder's pid and
host, only to say who is training the run. Needs a file system with working flock (local disks,
NFSv4, Lustre mounted with -o flock) when sweeps on several machines share `--out`.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path


def lock_path(run: Path) -> Path:
    return run.parent / f".{run.name}.lock"


class RunLock:
    def __init__(self, run: Path):
        self.path = lock_path(run)
        self._fd: int | None = None

    def holder(self) -> str:
        """Who holds (or last held) the lock, e.g. `pid 4242 on node7`."""
        try:
            return self.path.read_text().strip() or "another process"
        except OSError:
            return "another process"

    def acquire(self, *, wait: bool) -> bool:
        """Take the lock; without `wait`, return False at once if another process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire(wait=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
