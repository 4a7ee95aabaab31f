"""write_atomic: a write that fails or is killed halfway leaves the previous file whole."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archspec.io import current_umask, write_atomic, write_text_atomic

REPO = Path(__file__).resolve().parents[2]
OLD = b"the previous checkpoint, complete\n" * 100


def test_a_write_that_fails_halfway_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path,
) -> None:
    target = tmp_path / "last.pt"
    target.write_bytes(OLD)

    def half_then_disk_full(f) -> None:
        f.write(b"the new one, half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, half_then_disk_full)
    assert target.read_bytes() == OLD
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_a_write_that_succeeds_replaces_the_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "metrics.csv"
    target.write_bytes(OLD)
    write_text_atomic(target, "epoch\n1\n")
    assert target.read_text() == "epoch\n1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]
    # mkstemp makes private files; the result has a new file's usual mode instead.
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~current_umask()


# A process killed by SIGKILL in the middle of its write: no handler runs, no cleanup happens.
KILLED_MID_WRITE = """
import sys, time
from archspec.io import write_atomic
target, started = sys.argv[1], sys.argv[2]
def slow(f):
    f.write(b"the new one, first half ")
    f.flush()
    open(started, "w").close()
    time.sleep(60)  # killed here
    f.write(b"second half")
write_atomic(target, slow)
"""


def test_a_process_killed_mid_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    target, started = folder / "last.pt", tmp_path / "started"
    target.write_bytes(OLD)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_MID_WRITE, str(target), str(started)], env=env
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert child.poll() is None, "the writer ended before it started writing"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
    assert child.returncode == -signal.SIGKILL
    assert target.read_bytes() == OLD
    # What a kill leaves is a hidden temporary beside it, never a half file under the real name.
    litter = [p.name for p in folder.iterdir() if p.name != "last.pt"]
    assert all(name.startswith(".last.pt.") and name.endswith(".tmp") for name in litter), litter
