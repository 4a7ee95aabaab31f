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


def test_auto_picks_an_available_device() -> None:
    device = pick_device("auto")
    expected = "cuda" if torch.cuda.is_available() else device.type
    assert device.type == expected and device.type in ("cuda", "mps", "cpu")


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
