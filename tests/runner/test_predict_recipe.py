"""predict preprocesses as the run trained: its normalisation and its input channels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.io import ImageReadMode, decode_image

from archspec.spec import spec_from_text
from runner.deploy.predict import predict
from runner.training.checkpoint import load_checkpoint
from runner.training.model import seeded_model
from runner.training.recipe import IMAGENET_MEAN, IMAGENET_STD
from tests.runner.helpers import SMALL_SPEC, write_checkpoint

LABELS = tuple("abcdefg")


def image(path: Path, seed: int) -> Path:
    pixels = np.random.default_rng(seed).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.mark.parametrize(
    ("channels", "config", "mean", "std"),
    [
        (3, {"normalize": "imagenet"}, IMAGENET_MEAN, IMAGENET_STD),
        (3, {"init": "torchvision:alexnet"}, IMAGENET_MEAN, IMAGENET_STD),
        (
            3,
            {"normalize": {"mean": [0.1, 0.2, 0.3], "std": [0.5, 0.5, 0.5]}},
            (0.1, 0.2, 0.3),
            (0.5,) * 3,
        ),
        (1, {}, (sum((0.7659, 0.7463, 0.7173)) / 3,), (sum((0.3089, 0.3181, 0.3470)) / 3,)),
    ],
)
def test_predict_normalises_as_the_run_trained(tmp_path, channels, config, mean, std):
    spec = spec_from_text(SMALL_SPEC.replace("[3, 24, 24]", f"[{channels}, 24, 24]"))
    path = write_checkpoint(
        tmp_path / "best.pt", spec, LABELS, model=seeded_model(spec, 7, 3), config=config
    )
    pictures = [image(tmp_path / f"{i}.png", i) for i in range(3)]
    checkpoint = load_checkpoint(path)
    got = predict(checkpoint, pictures, top_k=1, workers=1)
    # Decoded as training decodes (torchvision: RGB, or its own RGB -> gray), then normalised.
    mode = ImageReadMode.RGB if channels == 3 else ImageReadMode.GRAY
    x = torch.stack([decode_image(str(p), mode=mode).float() / 255 for p in pictures])
    x = (x - torch.tensor(mean).view(-1, 1, 1)) / torch.tensor(std).view(-1, 1, 1)
    with torch.inference_mode():
        expected = torch.softmax(checkpoint.build_model()(x), dim=1).max(dim=1).values
    assert [p.probability for p in got] == pytest.approx(expected.tolist(), abs=1e-4)
