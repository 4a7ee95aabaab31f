"""Where a run computes, in which precision and memory format, and how reproducibly."""

from __future__ import annotations

import contextlib
import os

import torch

from archspec.errors import UserError

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
MEMORY_FORMATS = ("auto", "channels_last", "contiguous")
# cuBLAS needs a fixed workspace to give the same bits every time; read when CUDA starts.
CUBLAS_DETERMINISTIC = ":4096:8"


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: no CUDA device is available here; use --device cpu")
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise UserError("--device mps: no Apple GPU is available here; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name}: not a device; use auto, cpu, cuda or mps") from None


def resolve_precision(name: str, device: torch.device) -> str:
    """auto = bf16 on a CUDA device that supports it, fp32 elsewhere (CPU autocast is slower
    than fp32 on most CPUs, but `--precision bf16` is allowed there)."""
    if name not in PRECISIONS:
        raise UserError(f"--precision {name}: use one of {', '.join(PRECISIONS)}")
    if name == "auto":
        return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if name == "fp16" and device.type != "cuda":
        raise UserError("--precision fp16 needs a CUDA device; use bf16 or fp32 here")
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise UserError("--precision bf16: this GPU does not support bfloat16; use fp16 or fp32")
    return name


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Mixed precision for bf16 and fp16 (a resolved precision); nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler | None:
    """float16 gradients underflow without loss scaling; bfloat16 has float32's range."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None


def torch_memory_format(name: str) -> torch.memory_format:
    """A resolved memory format name as torch's constant."""
    return torch.channels_last if name == "channels_last" else torch.contiguous_format


@contextlib.contextmanager
def deterministic(on: bool):
    """With `on`, the same bits on every run of a GPU: deterministic kernels only, a fixed cuBLAS
    workspace, no cuDNN autotuning. Costs some speed; the CPU is deterministic anyway. The
    process's previous settings come back afterwards (they are global)."""
    if not on:
        yield
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_DETERMINISTIC)
    cudnn = torch.backends.cudnn
    previous = (cudnn.deterministic, cudnn.benchmark, torch.are_deterministic_algorithms_enabled())
    cudnn.deterministic, cudnn.benchmark = True, False
    torch.use_deterministic_algorithms(True)
    try:
        yield
    except RuntimeError as e:
        if "does not have a deterministic implementation" not in str(e):
            raise
        first_line = str(e).split(",")[0]
        raise UserError(
            f"--deterministic: {first_line} on this device; train without --deterministic"
        ) from None
    finally:
        cudnn.deterministic, cudnn.benchmark = previous[:2]
        torch.use_deterministic_algorithms(previous[2])
