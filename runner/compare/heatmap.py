"""`cka.png`: linear CKA between every conv layer of A (rows) and every conv layer of B."""

from __future__ import annotations

import math
from pathlib import Path

from runner.compare.representation import CkaResult
from runner.figures.figure import new_figure, save_figure


def plot_cka(cka: CkaResult, a: str, b: str, title: str, path: Path) -> Path:
    rows, cols = len(cka.layers_a), len(cka.layers_b)
    fig = new_figure(1.6 + 0.9 * cols, 1.2 + 0.6 * rows)
    ax = fig.subplots()
    image = ax.imshow(cka.values, vmin=0.0, vmax=1.0, cmap="viridis")
    for i, row in enumerate(cka.values):
        for j, value in enumerate(row):
            text = "–" if math.isnan(value) else f"{value:.2f}"
            ax.text(j, i, text, ha="center", va="center", color="white" if value < 0.6 else "black")
    ax.set_xticks(range(cols), cka.layers_b, rotation=45, ha="right")
    ax.set_yticks(range(rows), cka.layers_a)
    ax.set_xlabel(b)
    ax.set_ylabel(a)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, label="linear CKA")
    return save_figure(fig, path)
