"""Choosing the device, the precision (autocast) and the memory format."""

from __future__ import annotations

import pytest
import torch

from archspec.errors import UserError
from runner.training.device import (
    autocast,
    deterministic,
    grad_scaler,
    pick_device,
    resolve_precision,
    torch_memory_format,
)


def test_cpu_runs_fp32_unless_asked_for_bf16() -> None:
    cpu = pick_device("cpu")
    assert cpu == torch.device("cpu")
    assert resolve_precision("auto", cpu) == "fp32"
    with autocast(cpu, "fp32"):
        y = torch.ones(2, 2) @ torch.ones(2, 2)
    assert y.dtype == torch.float32
    assert resolve_precision("bf16", cpu) == "bf16"
    with autocast(cpu, "bf16"):  # CPU autocast: the mixed-precision path runs without a GPU
        y = torch.ones(2, 2) @ torch.ones(2, 2)
    assert y.dtype == torch.bfloat16
    assert grad_scaler(cpu, "bf16") is None and grad_scaler(cpu, "fp32") is None


def test_fp16_needs_cuda_and_unknown_precisions_are_refused() -> None:
    with pytest.raises(UserError, match="fp16 needs a CUDA"):
        resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(UserError, match="bf16, fp16, fp32"):
        resolve_precision("fp8", torch.device("cpu"))


def test_memory_format_names() -> None:
    assert torch_memory_format("channels_last") == torch.channels_last
    assert torch_memory_format("contiguous") == torch.contiguous_format


def test_deterministic_mode_is_undone_afterwards() -> None:
    before = torch.are_deterministic_algorithms_enabled()
    with deterministic(True):
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert torch.are_deterministic_algorithms_enabled() == before


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda: bool, mps: bool, expected: str):
    # What the machine has is set here, so every branch runs on any machine, a CPU one included.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert pick_device("auto").type == expected


def test_auto_picks_what_this_machine_really_has() -> None:
    has_mps = torch.backends.mps.is_available()
    expected = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    assert pick_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_one_is_a_user_error() -> None:
    with pytest.raises(UserError, match="no CUDA device"):
        pick_device("cuda")


def test_a_device_name_that_is_no_device() -> None:
    with pytest.raises(UserError, match="not a device"):
        pick_device("tpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_uses_mixed_precision_by_default() -> None:
    cuda = pick_device("cuda")
    precision = resolve_precision("auto", cuda)
    assert precision == ("bf16" if torch.cuda.is_bf16_supported() else "fp32")
    with autocast(cuda, "bf16"):
        y = torch.ones(8, 8, device=cuda) @ torch.ones(8, 8, device=cuda)
    assert y.dtype == torch.bfloat16
    assert grad_scaler(cuda, "fp16") is not None and grad_scaler(cuda, "bf16") is None
