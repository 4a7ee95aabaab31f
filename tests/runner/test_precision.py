"""How the steps compute: bf16 autocast on the CPU (the GPU's mixed-precision path, run in CI),
and a last batch of one image with BatchNorm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from archspec_cli import main
from runner.data import write_synthetic
from runner.training.checkpoint import load_checkpoint
from runner.training.config import TrainConfig
from runner.training.train import train_run
from tests.runner.conftest import png
from tests.runner.helpers import SMALL_SPEC


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("precision") / "data"
    write_synthetic(root, seed=2, train_per_class=1, val_per_class=1, size=24)
    return root


def train(spec: Path, data: Path, out: Path, **settings) -> Path:
    config = TrainConfig(
        spec=str(spec), task="domain", data=str(data), out=str(out), workers=1, epochs=1,
        batch_size=16, memory_format="contiguous", device="cpu", **settings,
    )  # fmt: skip
    return train_run(config, progress=False)


def test_bf16_trains_on_the_cpu_with_autocast(synthetic, tmp_path, capsys):
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL_SPEC)
    fp32 = train(spec, synthetic, tmp_path / "a", precision="fp32")
    bf16 = train(spec, synthetic, tmp_path / "b", precision="bf16")
    assert "precision: bf16" in capsys.readouterr().out
    assert yaml.safe_load((bf16 / "config.yaml").read_text())["precision"] == "bf16"
    assert json.loads((bf16 / "summary.json").read_text())["epochs"] == 1
    # Same seed, same data: only bfloat16 arithmetic can make the weights differ.
    a, b = load_checkpoint(fp32 / "last.pt"), load_checkpoint(bf16 / "last.pt")
    assert all(v.dtype == torch.float32 for v in b.model_state.values())  # weights stay fp32
    assert any(not torch.equal(a.model_state[k], b.model_state[k]) for k in a.model_state)


def test_fp16_on_the_cpu_is_a_user_error(synthetic, tmp_path, capsys):
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL_SPEC)
    args = ["train", str(spec), "--task", "domain", "--data", str(synthetic), "--device", "cpu"]
    code = main([*args, "--precision", "fp16", "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and "fp16 needs a CUDA device" in err and "Traceback" not in err


BATCH_NORM_SPEC = """\
name: WithBatchNorm
input_shape: [3, 16, 16]
sections:
  features:
    - Conv2d: {out_channels: 4, kernel_size: 3, stride: 2}
    - ReLU
  classifier:
    - Linear: {out_features: 8}
    - BatchNorm1d
    - ReLU
    - Linear: {out_features: num_classes}
"""


def test_a_last_batch_of_one_image_is_left_out_with_batch_norm(tmp_path, capsys):
    """60 training images in batches of 59: the second batch would hold 1 image, which
    BatchNorm1d cannot train on."""
    data = tmp_path / "data"
    for split, per_group in (("train", 15), ("val", 1)):
        for d, domain in enumerate(("photo", "sketch")):
            for c, category in enumerate(("circle", "square")):
                for i in range(per_group):
                    colour = (40 * d + i, 60 * c, 9 * i)
                    png(data / split / domain / category / f"{i}.png", (16, 16), colour)
    spec = tmp_path / "bn.yaml"
    spec.write_text(BATCH_NORM_SPEC)
    code = main(["train", str(spec), "--task", "domain", "--data", str(data), "--epochs", "2",
                 "--batch-size", "59", "--device", "cpu", "--out", str(tmp_path / "runs"),
                 "--quiet"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.count("leave a last batch of 1 image") == 1  # said once, not per epoch
    run = tmp_path / "runs" / "bn-domain"
    assert (run / "summary.json").is_file()
    assert load_checkpoint(run / "last.pt").epoch == 2
