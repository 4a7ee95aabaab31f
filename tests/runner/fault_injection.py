"""Faults the tests inject into a real `archspec train` process.

`python -m tests.runner.faulty_archspec train ...` (from the repository root) is `archspec` with
the training hooks (runner/training/hooks.py) replaced by the faults below, each read from an
environment variable of that process; the production code reads none of them:

- ARCHSPEC_TEST_SIGINT_AT="E,B,N": send this process N SIGINTs in the middle of step B of
  epoch E (0-based), between the forward and the backward pass; "finish,N": as the last epoch
  is done, before the final checkpoint and the summary;
- ARCHSPEC_TEST_SIGNAL_AT="E,B,NAME": send this process signal NAME (TERM, USR1, USR2) in
  the middle of step B of epoch E, as a cluster's scheduler does before it ends a job;
- ARCHSPEC_TEST_PAUSE_AT="E,B": after step B of epoch E, print "paused" and sleep, so a test can
  kill the process there;
- ARCHSPEC_TEST_HOLD_SAVE="NAME,K": hold the K-th write (1-based) of checkpoint NAME part-way
  through its temporary file, print "holding NAME" and sleep;
- ARCHSPEC_TEST_ENOSPC="NAME,K": fail the K-th write of NAME part-way with "No space left on
  device", as a full disk would.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO

from runner.launch.slurm import SlurmRun
from runner.training import hooks

_writes: Counter[str] = Counter()
REPO = Path(__file__).resolve().parents[2]


def pythonpath_with_repo() -> str:
    """PYTHONPATH for a child process that imports these tests' modules by name."""
    return os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))


def _setting(name: str) -> list[str] | None:
    value = os.environ.get(name)
    return value.split(",") if value else None


def _at(name: str, *where: object) -> list[str] | None:
    setting = _setting(name)
    if setting and setting[: len(where)] == [str(w) for w in where]:
        return setting
    return None


def _interrupt(setting: list[str] | None, count_at: int) -> None:
    for _ in range(int(setting[count_at]) if setting and len(setting) > count_at else 0):
        os.kill(os.getpid(), signal.SIGINT)


def _mid_step(epoch: int, batch: int) -> None:
    _interrupt(_at("ARCHSPEC_TEST_SIGINT_AT", epoch, batch), 2)
    setting = _at("ARCHSPEC_TEST_SIGNAL_AT", epoch, batch)
    if setting and len(setting) > 2:
        os.kill(os.getpid(), getattr(signal, f"SIG{setting[2]}"))


def _before_finish() -> None:
    _interrupt(_at("ARCHSPEC_TEST_SIGINT_AT", "finish"), 1)


def _after_step(epoch: int, batch: int) -> None:
    if _at("ARCHSPEC_TEST_PAUSE_AT", epoch, batch):
        _sleep_forever("paused")


def _checkpoint_file(name: str, f: IO[bytes]) -> IO[bytes]:
    """The file to save checkpoint `name` into: `f`, or `f` with a fault after its first write."""
    _writes[name] += 1
    hold, full = _setting("ARCHSPEC_TEST_HOLD_SAVE"), _setting("ARCHSPEC_TEST_ENOSPC")
    if hold is not None and hold[0] == name and int(hold[1]) == _writes[name]:
        return _FaultyFile(f, f"holding {name}")
    if full is not None and full[0] == name and int(full[1]) == _writes[name]:
        return _FaultyFile(f, None)
    return f


class _FaultyFile:
    """Writes the first chunk, then holds (`message`) or fails as a full disk (None)."""

    def __init__(self, f: IO[bytes], message: str | None) -> None:
        self._f, self._message, self._written = f, message, False

    def write(self, data: bytes) -> int:
        if self._written:
            self._f.flush()
            if self._message is None:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            _sleep_forever(self._message)
        self._written = True
        return self._f.write(data)

    def __getattr__(self, name: str):
        return getattr(self._f, name)


def _sleep_forever(message: str) -> None:
    print(message, flush=True)
    sys.stdout.flush()
    while True:
        time.sleep(1)


def install() -> None:
    """Replace the training hooks with the faults above."""
    hooks.mid_step, hooks.after_step = _mid_step, _after_step
    hooks.before_finish, hooks.checkpoint_file = _before_finish, _checkpoint_file


class FaultySlurmRun(SlurmRun):
    """A submitit job that trains with the faults above, read from the job's environment
    (submitit's local executor passes the sweep's on). The job process unpickles this class by
    name, so the repository root must be on its PYTHONPATH."""

    def __call__(self, job):
        install()
        return super().__call__(job)
