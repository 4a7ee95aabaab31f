"""Label images with a trained model, preprocessed exactly as training fed it (the data layer)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from archspec.errors import UserError
from runner.data import DataError, decode_images, normalize
from runner.data.errors import bullet_list
from runner.data.folders import IMAGE_FORMATS, IMAGE_SUFFIXES
from runner.training.checkpoint import Checkpoint
from runner.training.recipe import run_normalization

CHUNK = 256  # images decoded at a time: a folder of 10,000 never sits in memory at once
UNREADABLE = "cannot be decoded as an image"


@dataclass(frozen=True)
class Prediction:
    image: Path
    top: tuple[tuple[str, float], ...]  # (label, probability), most probable first; () if error
    error: str | None = None  # why the image could not be labelled

    @property
    def label(self) -> str | None:
        return self.top[0][0] if self.top else None

    @property
    def probability(self) -> float | None:
        return self.top[0][1] if self.top else None


def expand_images(paths: Sequence[Path]) -> list[Path]:
    """Files as given; a folder stands for its image files, at any depth, sorted by path.

    Missing paths, and folders holding no image, are all reported at once, before any decoding.
    """
    images, problems = [], []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in IMAGE_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
                problems.append(f"{path}: a folder with no image files ({suffixes}) in it")
            images += found
        elif path.is_file():
            images.append(path)
        else:
            problems.append(f"{path}: no such file or folder")
    if problems:
        raise DataError(
            f"{plural(len(problems), 'path')} of {len(paths)} cannot be used:\n"
            f"{bullet_list(problems)}"
        )
    return images


def predict(
    checkpoint: Checkpoint,
    images: Sequence[Path],
    top_k: int = 3,
    *,
    batch_size: int = 64,
    workers: int = 2,
) -> list[Prediction]:
    """The `top_k` most probable labels of each image (all labels if there are fewer).

    An image that cannot be decoded gets a Prediction with `error` set instead of labels, so
    one broken file in a folder does not cost the labels of all the others.
    """
    if top_k < 1:
        raise UserError(f"--top must be at least 1, got {top_k}")
    channels, height, width = checkpoint.spec.input_shape
    mean, std = run_normalization(checkpoint.config, channels)  # as the run trained
    paths = expand_images(images)
    model = checkpoint.build_model()
    k = min(top_k, len(checkpoint.labels))
    predictions = []
    for start in range(0, len(paths), CHUNK):
        chunk = paths[start : start + CHUNK]
        decoded = decode_images(
            chunk,
            (height, width),
            workers=max(1, min(workers, len(chunk))),
            progress=False,
            skip_bad=True,  # the bad ones get an error row, in predict's own words
            channels=channels,
        )
        labelled = dict(
            zip(
                (chunk[i] for i in decoded.kept),
                _top_k(model, decoded.images, checkpoint.labels, k, batch_size, (mean, std)),
                strict=True,
            )
        )
        for path in chunk:
            if path in labelled:
                predictions.append(Prediction(path, labelled[path]))
            else:
                predictions.append(Prediction(path, (), UNREADABLE))
    return predictions


def _top_k(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: Sequence[str],
    k: int,
    batch_size: int,
    normalization: tuple[Sequence[float], Sequence[float]],
) -> list[tuple[tuple[str, float], ...]]:
    """(label, probability) pairs, most probable first, of each (C, H, W) uint8 image."""
    tops = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = normalize(images[start : start + batch_size], *normalization)  # (B, C, H, W)
            probabilities = torch.softmax(model(x), dim=1)  # (B, num_classes)
            values, indices = probabilities.topk(k, dim=1)  # (B, k) each, most probable first
            for p_row, i_row in zip(values.tolist(), indices.tolist(), strict=True):
                tops.append(tuple((labels[i], p) for i, p in zip(i_row, p_row, strict=True)))
    return tops


def unreadable_error(predictions: Sequence[Prediction]) -> DataError | None:
    """The error to end with when some images could not be labelled (the rest were)."""
    bad = [p.image for p in predictions if p.error]
    if not bad:
        return None
    return DataError(
        f"{plural(len(bad), 'image')} of {len(predictions)} {'was' if len(bad) == 1 else 'were'} "
        f"not labelled, {UNREADABLE}:\n{bullet_list(bad)}\n"
        f"give image files ({IMAGE_FORMATS})"
    )


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def format_predictions(predictions: Sequence[Prediction]) -> str:
    """One aligned line per image: path, top label and probability, then the top-K."""
    if not predictions:
        return ""
    path_width = max(len(str(p.image)) for p in predictions)
    label_width = max((len(label) for p in predictions for label, _ in p.top), default=0)
    lines = []
    for p in predictions:
        if p.error:
            lines.append(f"{p.image!s:<{path_width}}  {p.error}")
            continue
        ranked = "  ".join(f"{label:<{label_width}} {prob:.3f}" for label, prob in p.top)
        lines.append(
            f"{p.image!s:<{path_width}}  {p.label:<{label_width}} {p.probability:.3f}"
            f"   top {len(p.top)}: {ranked}".rstrip()
        )
    return "\n".join(lines)


def predictions_to_csv(predictions: Sequence[Prediction]) -> str:
    """CSV with a header: image, label, probability, error (empty where the image was labelled)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", "label", "probability", "error"])
    for p in predictions:
        probability = "" if p.probability is None else f"{p.probability:.6f}"
        writer.writerow([p.image, p.label or "", probability, p.error or ""])
    return buffer.getvalue()


def predictions_to_data(checkpoint: Checkpoint, predictions: Sequence[Prediction]) -> dict:
    """JSON-ready: the model that predicted and, per image, its label and top-K."""
    images: list[dict[str, Any]] = [
        {
            "image": str(p.image),
            "label": p.label,
            "probability": p.probability,
            "top": [{"label": label, "probability": prob} for label, prob in p.top],
            **({"error": p.error} if p.error else {}),
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
