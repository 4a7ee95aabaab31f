"""Choosing the device, and the CUDA-only speed-ups staying off elsewhere."""

from __future__ import annotations

import pytest
import torch

from archspec.errors import UserError
from runner.device import autocast, memory_format, needs_grad_scaler, pick_device


def test_cpu_gets_no_mixed_precision_and_plain_layout() -> None:
    cpu = pick_device("cpu")
    assert cpu == torch.device("cpu")
    with autocast(cpu):
        y = torch.ones(2, 2) @ torch.ones(2, 2)
    assert y.dtype == torch.float32  # autocast would have changed it
    assert memory_format(cpu) == torch.contiguous_format
    assert not needs_grad_scaler(cpu)


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
def test_cuda_uses_mixed_precision_and_channels_last() -> None:
    cuda = pick_device("cuda")
    with autocast(cuda):
        y = torch.ones(8, 8, device=cuda) @ torch.ones(8, 8, device=cuda)
    assert y.dtype in (torch.bfloat16, torch.float16)
    assert memory_format(cuda) == torch.channels_last
