"""Label images with a trained model, preprocessed exactly as training fed it (the data layer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from archspec.errors import UserError
from runner.checkpoint import Checkpoint
from runner.data import DataError, decode_images, normalize
from runner.data.errors import bullet_list
from runner.recipe import run_normalization


@dataclass(frozen=True)
class Prediction:
    image: Path
    top: tuple[tuple[str, float], ...]  # (label, probability), most probable first

    @property
    def label(self) -> str:
        return self.top[0][0]

    @property
    def probability(self) -> float:
        return self.top[0][1]


def predict(
    checkpoint: Checkpoint,
    images: Sequence[Path],
    top_k: int = 3,
    *,
    batch_size: int = 64,
    workers: int = 2,
) -> list[Prediction]:
    """The `top_k` most probable labels of each image (all labels if there are fewer)."""
    if top_k < 1:
        raise UserError(f"--top must be at least 1, got {top_k}")
    channels, height, width = checkpoint.spec.input_shape
    mean, std = run_normalization(checkpoint.config, channels)  # as the run trained
    paths = [Path(p) for p in images]
    _check_files(paths)
    decoded = decode_images(
        paths,
        (height, width),
        workers=max(1, min(workers, len(paths))),
        progress=False,
        skip_bad=True,  # the bad ones are reported below, in predict's own words
        channels=channels,
    )
    if decoded.bad:
        raise DataError(
            f"{len(decoded.bad)} of {_images(len(paths))} cannot be decoded:\n"
            f"{bullet_list(decoded.bad)}\n"
            "give image files torchvision reads (PNG, JPEG, GIF, WebP)"
        )

    model = checkpoint.build_model()
    k = min(top_k, len(checkpoint.labels))
    predictions = []
    with torch.inference_mode():
        for start in range(0, len(paths), batch_size):
            x = normalize(decoded.images[start : start + batch_size], mean, std)  # (B, C, H, W)
            probabilities = torch.softmax(model(x), dim=1)  # (B, num_classes)
            values, indices = probabilities.topk(k, dim=1)  # (B, k) each, most probable first
            chunk = paths[start : start + batch_size]
            rows = zip(chunk, values.tolist(), indices.tolist(), strict=True)
            for path, p_row, i_row in rows:
                top = tuple((checkpoint.labels[i], p) for i, p in zip(i_row, p_row, strict=True))
                predictions.append(Prediction(path, top))
    return predictions


def _images(n: int) -> str:
    return f"{n} image" if n == 1 else f"{n} images"


def _check_files(paths: Sequence[Path]) -> None:
    """Missing paths and folders, all listed at once, before anything is decoded."""
    problems = [
        f"{p}: " + ("is a directory, not an image" if p.is_dir() else "no such file")
        for p in paths
        if not p.is_file()
    ]
    if problems:
        raise DataError(
            f"{len(problems)} of {_images(len(paths))} cannot be read:\n{bullet_list(problems)}"
        )


def format_predictions(predictions: Sequence[Prediction]) -> str:
    """One aligned line per image: path, top label and probability, then the top-K."""
    if not predictions:
        return ""
    path_width = max(len(str(p.image)) for p in predictions)
    label_width = max(len(label) for p in predictions for label, _ in p.top)
    lines = []
    for p in predictions:
        ranked = "  ".join(f"{label:<{label_width}} {prob:.3f}" for label, prob in p.top)
        lines.append(
            f"{p.image!s:<{path_width}}  {p.label:<{label_width}} {p.probability:.3f}"
            f"   top {len(p.top)}: {ranked}".rstrip()
        )
    return "\n".join(lines)


def predictions_to_data(checkpoint: Checkpoint, predictions: Sequence[Prediction]) -> dict:
    """JSON-ready: the model that predicted and, per image, its label and top-K."""
    images: list[dict[str, Any]] = [
        {
            "image": str(p.image),
            "label": p.label,
            "probability": p.probability,
            "top": [{"label": label, "probability": prob} for label, prob in p.top],
        }
        for p in predictions
    ]
    return {
        "checkpoint": str(checkpoint.path),
        "spec_name": checkpoint.spec.name,
        "task": checkpoint.task,
        "epoch": checkpoint.epoch,
        "labels": list(checkpoint.labels),
        "predictions": images,
    }
