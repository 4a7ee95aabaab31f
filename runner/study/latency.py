"""How long a trained model takes for one image: batch 1, fp32, after a warm-up, the median of
repeated forward passes, on the device the run was configured for (its config.yaml), resolved
on the machine writing the report. Measured once per report, never inside a test's assertion."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch
import yaml

from archspec.errors import UserError
from runner.training.checkpoint import find_checkpoint, load_checkpoint
from runner.training.device import pick_device

WARMUP = 3  # first calls pay for allocation and kernel selection
REPEATS = 15  # the median of these: robust to a stray slow call


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def latency_ms(model: torch.nn.Module, input_shape: tuple[int, ...], device: torch.device) -> float:
    """Median milliseconds of one forward pass of one image."""
    model = model.to(device).eval()
    x = torch.randn(1, *input_shape, device=device)  # (1, C, H, W)
    times = []
    with torch.inference_mode():
        for i in range(WARMUP + REPEATS):
            _sync(device)
            started = time.perf_counter()
            model(x)
            _sync(device)
            if i >= WARMUP:
                times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def run_device(run: Path) -> str:
    """The device the run was configured for: config.yaml's `device`, `auto` if unknown."""
    try:
        config = yaml.safe_load((run / "config.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        config = {}
    return str(config.get("device") or "auto")


def run_latency(run: Path) -> tuple[float | None, str]:
    """(ms per image at batch 1, the device in words); None with the reason when the run's
    device is not on this machine (e.g. a report written on a cluster's login node)."""
    wanted = run_device(run)
    try:
        device = pick_device(wanted)
    except UserError:
        return None, f"{wanted}, not on this machine"
    checkpoint = load_checkpoint(find_checkpoint(run))
    return latency_ms(checkpoint.build_model(), checkpoint.spec.input_shape, device), device.type
