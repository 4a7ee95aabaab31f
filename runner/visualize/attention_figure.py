"""`attention-distance.png`: a dot per head, a column per self-attention layer in model order,
and the distance uniform attention would give, as a dashed mark per layer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from runner.figures.figure import new_figure, save_figure
from runner.visualize.attention import AttentionDistance

ATTENTION_FILE = "attention-distance.png"


def plot_attention_distance(
    distances: Sequence[AttentionDistance], title: str, images: int, path: Path
) -> Path:
    fig = new_figure(max(4.5, 1.8 + 0.45 * len(distances)), 4.2)
    ax = fig.subplots()
    for x, d in enumerate(distances):
        ax.scatter([x] * len(d.heads), d.heads, s=16, color="#1f77b4", alpha=0.8, zorder=3)
        ax.hlines(d.uniform, x - 0.35, x + 0.35, colors="#888888", linestyles="dashed")
    ax.set_xticks(range(len(distances)), [d.layer for d in distances], rotation=45, ha="right")
    highest = max(max(d.uniform, *d.heads) for d in distances)
    ax.set_ylim(0, highest * 1.1)
    ax.set_ylabel("mean attention distance (input pixels)")
    ax.set_title(
        f"{title}: how far each head looks ({images} images)\n"
        "dots: heads; dashes: every patch weighted alike",
        fontsize=9,
    )
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)
