"""One optimizer step, and the timing of a few (to choose a memory format, or to benchmark).

A step returns its loss and correct count as tensors on the device: reading them (`.item()`)
would make the CPU wait for the GPU in every step, so the loop adds them up there and reads
the sums once an epoch.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from runner.training.device import autocast, torch_memory_format

OptimizerFactory = Callable[[nn.Module], torch.optim.Optimizer]


def train_step(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    x: torch.Tensor,
    y: torch.Tensor,
    precision: str,
    after_forward: Callable[[], None] | None = None,
    label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step on a normalised batch: (mean loss, correct count), both left on the device."""
    with autocast(x.device, precision):
        logits = net(x)
    loss = nn.functional.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
    if after_forward is not None:
        after_forward()
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    return loss.detach(), (logits.argmax(1) == y).sum()


def time_steps(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    precision: str,
    *,
    steps: int = 1,
    warmup: int = 1,
) -> float:
    """Seconds per step over `steps` steps after `warmup` untimed ones, the GPU waited for.
    It trains `net`: give it a copy where the real model must not change."""
    synchronize = torch.cuda.synchronize if x.device.type == "cuda" else lambda: None
    for _ in range(warmup):
        train_step(net, optimizer, None, x, y, precision)
    synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        train_step(net, optimizer, None, x, y, precision)
    synchronize()
    return (time.perf_counter() - started) / steps


def time_memory_formats(
    model: nn.Module,
    make_optimizer: OptimizerFactory,
    x: torch.Tensor,
    y: torch.Tensor,
    precision: str,
    rounds: int = 3,
) -> dict[str, float]:
    """Median seconds per step of a copy of `model` in each memory format, rounds interleaved so
    a busy machine slows both alike. The RNG is put back: the run draws what it would have."""
    devices = [x.device.index or 0] if x.device.type == "cuda" else []
    times: dict[str, list[float]] = {"channels_last": [], "contiguous": []}
    with torch.random.fork_rng(devices=devices):
        trials = {}
        for name in times:
            layout = torch_memory_format(name)
            net = copy.deepcopy(model).to(memory_format=layout).train()
            trials[name] = (net, make_optimizer(net), x.contiguous(memory_format=layout))
        for round_ in range(rounds):
            for name, (net, optimizer, batch) in trials.items():
                warmup = 1 if round_ == 0 else 0  # the first step of a layout sets it up
                times[name].append(time_steps(net, optimizer, batch, y, precision, warmup=warmup))
    return {name: statistics.median(t) for name, t in times.items()}


def choose_memory_format(
    model: nn.Module,
    make_optimizer: OptimizerFactory,
    x: torch.Tensor,
    y: torch.Tensor,
    precision: str,
    combine: Callable[[dict[str, float]], dict[str, float]] = lambda seconds: seconds,
) -> tuple[str, str]:
    """The faster memory format for this model on this device, and why, in words. `combine`
    merges the timings of several processes, so that they all choose alike.

    Within 3% the device's usual best wins (channels_last for cuDNN, contiguous on a CPU), so
    noise does not flip the choice from one run to the next.
    """
    if not any(isinstance(m, nn.Conv2d) for m in model.modules()):
        return "contiguous", "no Conv2d layers"
    seconds = combine(time_memory_formats(model, make_optimizer, x, y, precision))
    usual = "channels_last" if x.device.type == "cuda" else "contiguous"
    other = "contiguous" if usual == "channels_last" else "channels_last"
    choice = other if seconds[other] < 0.97 * seconds[usual] else usual
    timed = ", ".join(f"{name} {1000 * s:.1f} ms" for name, s in seconds.items())
    return choice, f"a step timed in each: {timed}"
