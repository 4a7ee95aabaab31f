"""A model that cannot fit is refused with the numbers before a weight is allocated; `build`
still prints it (nothing is allocated there)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import archspec.memory
from archspec.errors import UserError
from archspec.memory import check_memory, memory_need
from archspec.shapes import resolve
from archspec.spec import spec_from_text
from runner.data import write_synthetic
from tests.runner.helpers import SMALL_SPEC, write_checkpoint

# 3*24*24 = 1728 features into a billion: 1.7 trillion weights, 7 TB in float32.
HUGE_SPEC = """\
name: Huge
input_shape: [3, 24, 24]
sections:
  classifier:
    - Linear: {out_features: 1000000000}
    - Linear: {out_features: num_classes}
"""


def test_the_need_adds_weights_gradients_adam_and_a_batch() -> None:
    resolved = resolve(spec_from_text(SMALL_SPEC), 4)
    params, activations = resolved.total_params, resolved.activation_bytes
    need = memory_need(resolved, 16, training=True)
    assert need.total == 4 * params * 4 + 2 * activations * 16  # w, grad, 2 Adam moments
    assert memory_need(resolved, 16, training=False).total == 4 * params + activations * 16
    with pytest.raises(UserError, match=r"cannot train Small on cpu: it needs .* this machine "):
        check_memory(resolved, "cpu", 16, training=True, available=need.total - 1)
    assert check_memory(resolved, "cpu", 16, training=True, available=need.total) == need


def test_train_refuses_before_allocating(tmp_path: Path, cli) -> None:
    data = tmp_path / "data"
    write_synthetic(data, seed=0, train_per_class=1, val_per_class=1, size=24)
    spec = tmp_path / "huge.yaml"
    spec.write_text(HUGE_SPEC)
    built = cli("build", spec, "--task", "domain")
    assert built.code == 0 and "Weights: 6.9 TB (float32)" in built.out
    start = time.perf_counter()
    result = cli("train", spec, "--task", "domain", "--data", data, "--out", tmp_path / "runs",
                 "--device", "cpu", "--epochs", "1", "--quiet")  # fmt: skip
    assert time.perf_counter() - start < 10
    assert result.code == 2, result.text
    assert "Traceback" not in result.text
    assert "cannot train Huge on cpu: it needs 28.8 TB (weights 6.9 TB, gradients 6.9 TB, " \
        "optimizer state 13.9 TB, activations for a batch of 128 1.0 TB)" in result.err  # fmt: skip
    assert "Use a smaller model" in result.err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_export_refuses_before_building(tmp_path: Path, cli, monkeypatch) -> None:
    spec = spec_from_text(SMALL_SPEC)
    checkpoint = write_checkpoint(tmp_path / "best.pt", spec, ["a", "b", "c", "d"])
    monkeypatch.setattr(archspec.memory, "available_memory", lambda device: (1000, "1.0 kB free"))
    result = cli("export", checkpoint, "--format", "torchscript")
    assert result.code == 2, result.text
    assert "cannot export Small on cpu: it needs" in result.err and "1.0 kB free" in result.err
    assert not (tmp_path / "model.pt").exists()


def test_on_cuda_the_free_gpu_memory_decides(monkeypatch) -> None:
    import torch

    resolved = resolve(spec_from_text(HUGE_SPEC), 4)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (20 * 10**9, 24 * 10**9))
    with pytest.raises(UserError, match=r"this machine has 24.0 GB GPU memory, 20.0 GB free"):
        check_memory(resolved, torch.device("cuda", 0), 8, training=True)


def test_the_python_build_refuses_weights_that_cannot_fit_but_builds_them_on_meta(
    monkeypatch,
) -> None:
    import torch

    import archspec

    free = (100 * 10**9, "100.0 GB of memory available")
    monkeypatch.setattr(archspec.memory, "available_memory", lambda device: free)

    # A ViT's position embedding has a row per patch: 10^8 patches at 160000 x 160000 pixels.
    sets = ["input_shape=[3, 160000, 160000]"]
    with pytest.raises(UserError, match=r"build VisionTransformer on cpu: it needs 307.\d GB"):
        archspec.build("vit_b_16", sets=sets)
    model = archspec.build("vit_b_16", sets=sets, device="meta")
    assert model.encoder.pos_embedding.shape == (1, 10**8 + 1, 768)
    with torch.device("meta"):
        assert archspec.build("vit_b_16", sets=sets).encoder.pos_embedding.is_meta


def test_the_python_build_on_cuda_without_cuda_says_so() -> None:
    import torch

    import archspec

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(UserError, match=r"on cuda:0: this machine has no CUDA device"):
        archspec.build("resnet18", device="cuda:0")
