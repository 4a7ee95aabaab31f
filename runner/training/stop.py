"""Stopping a run between batches: Ctrl-C, or a scheduler's SIGTERM/SIGUSR1/SIGUSR2
(Preempted, exit code 143), so that last.pt holds an exact position to resume from.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

# The signals a cluster sends before it ends a job: SLURM sends SIGTERM at preemption or at the
# time limit (then SIGKILL after its grace period), or SIGUSR1/SIGUSR2 earlier with --signal.
PREEMPT_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGUSR1", "SIGUSR2") if hasattr(signal, name)
)
EXIT_PREEMPTED = 143  # 128 + SIGTERM, what a scheduler expects of a job it asked to stop


class Preempted(KeyboardInterrupt):
    """The scheduler asked the run to stop; last.pt holds its exact position."""

    exit_code = EXIT_PREEMPTED

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


class StopRequest:
    """Ctrl-C asks the loop to stop after the batch in progress; a second Ctrl-C stops at once.
    SIGTERM, SIGUSR1 and SIGUSR2 (a scheduler's) also stop after the batch, and never at once:
    the checkpoint must be written within the grace period.

    Stopping between batches keeps the saved position exact, so a resumed run matches an
    uninterrupted one. Outside the main thread (where signals cannot be caught) it does nothing.
    """

    def __init__(self) -> None:
        self.requested = False
        self.preempted_by: str | None = None  # the scheduler's signal, if it sent one
        self.message = "stopping after this batch (Ctrl-C again to stop now)"
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if signum != signal.SIGINT:
            self.preempted_by = signal.Signals(signum).name
            message = f"{self.preempted_by}: saving a checkpoint after this batch"
        else:
            message = self.message
        if not self.requested:
            print(f"\n{message}", flush=True)
        self.requested = True

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, *PREEMPT_SIGNALS):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)

    def interrupted(self) -> KeyboardInterrupt:
        """What the loop raises when it stops: Preempted for a scheduler's signal."""
        return Preempted(self.preempted_by) if self.preempted_by else KeyboardInterrupt()
