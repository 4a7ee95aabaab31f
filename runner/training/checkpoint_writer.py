"""Checkpoints written in the background, so that training does not wait for the disk.

The training thread takes a snapshot (tensors cloned where they are: a copy inside the GPU
takes microseconds), and one writer thread moves it to the CPU and writes it atomically. On a GPU
the move runs on a stream of its own into pinned memory, so the copy engine does it while the
training kernels go on (a plain `.cpu()` would queue them behind a slow pageable copy). At most
one write is in flight: a checkpoint falling due while one is being written is skipped, and the
next one carries the newer state. An error in the writer is raised again in the training thread
at its next call, so it stops the run there with a proper message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import torch


class CheckpointWriter:
    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.pinned: dict[tuple, torch.Tensor] = {}  # CPU tensors reused by every write

    @property
    def busy(self) -> bool:
        """A write is in flight (it raises the writer's error, if it failed)."""
        self.raise_error()
        return self._thread is not None and self._thread.is_alive()

    def submit(self, write: Callable[[], None]) -> None:
        """Start `write` in the background; call only when not `busy`."""
        self._thread = threading.Thread(
            target=self._run, args=(write,), name="checkpoint-writer", daemon=True
        )
        self._thread.start()

    def wait(self) -> None:
        """Until the write in flight has finished; raises its error, if any."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.raise_error()

    def raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self, write: Callable[[], None]) -> None:
        try:
            write()
        except BaseException as e:  # handed to the training thread
            self._error = e


def snapshot(value: Any) -> Any:
    """A copy of every tensor in `value` (nested dicts, lists, tuples), left on its device."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: snapshot(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(snapshot(v) for v in value)
    return value


def snapshot_ready() -> torch.cuda.Event | None:
    """Marks, on the training stream, the point where the snapshot's copies are done."""
    if not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    event = torch.cuda.Event()
    event.record()
    return event


def to_cpu(
    value: Any,
    ready: torch.cuda.Event | None = None,
    pinned: dict[tuple, torch.Tensor] | None = None,
    label: str = "",
) -> Any:
    """`value` with every tensor moved to the CPU; with `ready`, on a side stream, into pinned
    memory. `pinned` (kept between writes, `label` telling the writes apart) holds the pinned
    tensors for the next write of the same shapes: allocating pinned memory stalls the GPU's
    other work, so it is done once per run, not once per checkpoint."""
    if ready is None:
        return _moved(value, lambda tensor, path: tensor.cpu())
    buffers = {} if pinned is None else pinned

    def move(tensor: torch.Tensor, path: tuple) -> torch.Tensor:
        if not tensor.is_cuda:
            return tensor
        key = (label, path, tuple(tensor.shape), tensor.dtype)
        if key not in buffers:
            buffers[key] = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
        return buffers[key].copy_(tensor, non_blocking=True)

    stream = torch.cuda.Stream()
    stream.wait_event(ready)
    with torch.cuda.stream(stream):
        moved = _moved(value, move)
    stream.synchronize()
    return moved


def _moved(value: Any, move: Callable[[torch.Tensor, tuple], torch.Tensor], path=()) -> Any:
    if isinstance(value, torch.Tensor):
        return move(value, path)
    if isinstance(value, dict):
        return {k: _moved(v, move, (*path, k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_moved(v, move, (*path, i)) for i, v in enumerate(value))
    return value
