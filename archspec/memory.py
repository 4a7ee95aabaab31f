"""Whether a model fits in memory, decided from its shapes before any weight is allocated.

Training needs, in float32: the weights, their gradients, the optimizer's state (Adam keeps two
moments per weight), and for a batch the outputs of every layer (kept for backward) and their
gradients. Inference needs the weights and one batch of outputs. A model that does not fit is
refused with the numbers, instead of the process being killed halfway through.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from archspec.errors import UserError
from archspec.shapes import BYTES_PER_VALUE, ResolvedSpec
from archspec.summary import format_bytes


@dataclass(frozen=True)
class MemoryNeed:
    weights: int
    gradients: int
    optimizer: int
    activations: int
    batch_size: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations

    def describe(self) -> str:
        parts = [f"weights {format_bytes(self.weights)}"]
        if self.gradients:
            parts.append(f"gradients {format_bytes(self.gradients)}")
        if self.optimizer:
            parts.append(f"optimizer state {format_bytes(self.optimizer)}")
        if self.batch_size:  # none when only the model is built
            parts.append(
                f"activations for a batch of {self.batch_size} {format_bytes(self.activations)}"
            )
        return f"{format_bytes(self.total)} ({', '.join(parts)})"


def memory_need(
    resolved: ResolvedSpec, batch_size: int, *, training: bool, optimizer_states: int = 2
) -> MemoryNeed:
    """Bytes a model needs; `optimizer_states` tensors per weight (Adam: 2, SGD momentum: 1)."""
    weights = BYTES_PER_VALUE * resolved.total_params
    per_image = resolved.activation_bytes * (2 if training else 1)  # outputs (+ their grads)
    return MemoryNeed(
        weights=weights,
        gradients=weights if training else 0,
        optimizer=weights * optimizer_states if training else 0,
        activations=per_image * batch_size,
        batch_size=batch_size,
    )


def available_memory(device: object) -> tuple[int, str] | None:
    """(bytes free, what was measured) on `device` (a torch.device or its name), or None when
    it cannot be told (then nothing is refused)."""
    kind = getattr(device, "type", str(device).split(":")[0])
    if kind == "cuda":
        import torch

        free, total = torch.cuda.mem_get_info(device)
        return free, f"{format_bytes(total)} GPU memory, {format_bytes(free)} free"
    if kind == "cpu":
        try:
            with open("/proc/meminfo", encoding="ascii") as f:
                info = dict(line.split(":", 1) for line in f)
            free = int(info["MemAvailable"].split()[0]) * 1024
        except (OSError, KeyError, ValueError):
            try:
                free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            except (OSError, ValueError, AttributeError):
                return None
        return free, f"{format_bytes(free)} of memory available"
    return None


def check_memory(
    resolved: ResolvedSpec,
    device: object,
    batch_size: int,
    *,
    training: bool,
    what: str = "train",
    available: int | None = None,
) -> MemoryNeed:
    """Raise UserError if the model cannot fit on `device`; return the need otherwise.

    `available` overrides the measured free memory (for tests).
    """
    need = memory_need(resolved, batch_size, training=training)
    if available is not None:
        measured: tuple[int, str] | None = (available, f"{format_bytes(available)} available")
    else:
        measured = available_memory(device)
    if measured is None or need.total <= measured[0]:
        return need
    fixed = need.total - need.activations  # what no batch size can reduce
    hint = "a smaller model or input size" if fixed > measured[0] else "a smaller --batch-size"
    raise UserError(
        f"cannot {what} {resolved.spec.name} on {device}: it needs {need.describe()}, and this "
        f"machine has {measured[1]}. Use {hint} (see `archspec build` for the per-layer sizes), "
        "or a device with more memory"
    )
