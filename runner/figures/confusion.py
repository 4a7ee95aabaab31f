"""Confusion matrix of a classifier's predictions: counts, and a figure with the label names."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from archspec.text import plural
from runner.figures.figure import new_figure, save_figure


def confusion_matrix(true: Sequence[int], pred: Sequence[int], num_classes: int) -> torch.Tensor:
    """(num_classes, num_classes) int64 counts; row = true label, column = predicted label."""
    true_t = torch.as_tensor(true, dtype=torch.long).flatten()
    pred_t = torch.as_tensor(pred, dtype=torch.long).flatten()
    if true_t.shape != pred_t.shape:
        raise ValueError(f"{len(true_t)} true labels but {len(pred_t)} predictions")
    for name, t in (("true", true_t), ("pred", pred_t)):
        if len(t) and (t.min() < 0 or t.max() >= num_classes):
            raise ValueError(f"{name} has labels outside 0..{num_classes - 1}")
    flat = torch.bincount(true_t * num_classes + pred_t, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def row_normalized(counts: torch.Tensor) -> torch.Tensor:
    """Each row divided by its total (the recall of that class on the diagonal); empty rows 0."""
    totals = counts.sum(dim=1, keepdim=True).clamp_min(1)
    return counts.double() / totals


def plot_confusion(
    true: Sequence[int], pred: Sequence[int], labels: Sequence[str], out: Path, title: str
) -> Path:
    """Counts in the cells, colours by row share; rows true labels, columns predicted ones."""
    n = len(labels)
    counts = confusion_matrix(true, pred, n)
    shares = row_normalized(counts)
    total = int(counts.sum())
    accuracy = float(counts.diagonal().sum()) / total if total else float("nan")
    size = max(4.5, 0.6 * n + 2.0)
    fig = new_figure(size + 1.0, size)
    ax = fig.add_subplot()
    image = ax.imshow(shares.numpy(), cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(n):
        for j in range(n):
            dark = shares[i, j] > 0.6
            ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center",
                    color="white" if dark else "black", fontsize=9)  # fmt: skip
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(image, ax=ax, label="share of the true label's images", shrink=0.8)
    ax.set_title(f"{title}\naccuracy {accuracy:.1%} of {plural(total, 'image')}", fontsize=10)
    return save_figure(fig, out)
