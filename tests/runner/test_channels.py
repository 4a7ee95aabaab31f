"""A spec's input channels decide decoding: 1 grayscale, 3 RGB; anything else is refused."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from torchvision.io import ImageReadMode, decode_image

from archspec_cli import main
from runner.data import PACS_MEAN, PACS_STD, decode_images
from tests.runner.helpers import SMALL_SPEC

GRAY_SPEC = SMALL_SPEC.replace("name: Small", "name: Gray").replace("[3, 24, 24]", "[1, 24, 24]")


def test_one_channel_decodes_grayscale(synthetic):
    paths = sorted(synthetic.rglob("*.png"))[:3]
    gray = decode_images(paths, (24, 24), workers=1, progress=False, channels=1)
    assert gray.images.shape == (3, 1, 24, 24)
    expected = decode_image(str(paths[0]), mode=ImageReadMode.GRAY)
    assert torch.equal(gray.images[0], expected)


@pytest.mark.parametrize("augment", ["none", "domainbed"])
def test_a_one_channel_spec_trains(synthetic, tmp_path, augment):
    spec = tmp_path / "gray.yaml"
    spec.write_text(GRAY_SPEC)
    code = main(
        ["train", str(spec), "--task", "domain", "--data", str(synthetic), "--epochs", "1",
         "--batch-size", "32", "--workers", "1", "--augment", augment,
         "--out", str(tmp_path / "runs"), "--quiet"]
    )  # fmt: skip
    assert code == 0
    run = tmp_path / "runs" / "gray-domain"
    assert json.loads((run / "summary.json").read_text())["labels"]
    recipe = yaml.safe_load((run / "recipe.yaml").read_text())
    assert recipe["mean"] == pytest.approx([sum(PACS_MEAN) / 3])  # the mean of the RGB ones
    assert recipe["std"] == pytest.approx([sum(PACS_STD) / 3])


def test_two_channels_are_refused_before_training(synthetic, tmp_path, capsys):
    spec = tmp_path / "two.yaml"
    spec.write_text(SMALL_SPEC.replace("[3, 24, 24]", "[2, 24, 24]"))
    code = main(
        ["train", str(spec), "--task", "domain", "--data", str(synthetic),
         "--out", str(tmp_path / "runs"), "--quiet"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert f"{spec}: input_shape asks for 2 input channels" in err
    assert "Traceback" not in err and not (tmp_path / "runs").exists()
