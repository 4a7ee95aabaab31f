"""Points where the training loop and the checkpoint writer let outside code in.

Each one does nothing here. A test replaces one (pytest's monkeypatch, or the fault launcher in
tests/runner/fault_injection.py) to act at an exact step: send a signal mid-step, pause after a
step, make a checkpoint write fail as a full disk would. The loop calls them through this
module (`hooks.mid_step(...)`), so a replacement made after import takes effect.
"""

from __future__ import annotations

from typing import IO


def mid_step(epoch: int, batch: int) -> None:
    """Inside step `batch` of `epoch` (both 0-based), between the forward and backward pass."""


def after_step(epoch: int, batch: int) -> None:
    """After step `batch` of `epoch` is done and counted."""


def before_finish() -> None:
    """Once the last epoch is done, before the final checkpoint, figures and summary."""


def checkpoint_file(name: str, f: IO[bytes]) -> IO[bytes]:
    """The file that checkpoint `name` (e.g. last.pt) is written into: its temporary file."""
    return f
