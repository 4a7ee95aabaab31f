"""`cka.png`: linear CKA between every measured layer of A (rows) and every one of B."""

from __future__ import annotations

import math
from pathlib import Path

from runner.compare.representation import CkaResult
from runner.figures.figure import new_figure, save_figure

# Up to this many layers a side, each cell is written out; beyond it (a ResNet-50 has 53 convs,
# a MaxViT-T about 100 conv and attention layers) cells shrink and only the colours remain.
MAX_WRITTEN = 24


def plot_cka(cka: CkaResult, a: str, b: str, title: str, path: Path) -> Path:
    rows, cols = len(cka.layers_a), len(cka.layers_b)
    written = max(rows, cols) <= MAX_WRITTEN
    # Room for each cell, and for the tick labels: A's beside the rows, B's slanted below
    cell_w, cell_h = (0.9, 0.6) if written else (0.18, 0.18)
    longest_a, longest_b = (max(len(n) for n in names) for names in (cka.layers_a, cka.layers_b))
    glyph = 0.075 if written else 0.045  # inches a character takes at the tick labels' size
    width = 1.6 + glyph * longest_a + cell_w * cols
    height = 1.2 + glyph * 0.8 * longest_b + cell_h * rows
    fig = new_figure(width, height)
    ax = fig.subplots()
    image = ax.imshow(cka.values, vmin=0.0, vmax=1.0, cmap="viridis")
    for i, row in enumerate(cka.values if written else ()):
        for j, value in enumerate(row):
            text = "–" if math.isnan(value) else f"{value:.2f}"
            ax.text(j, i, text, ha="center", va="center", color="white" if value < 0.6 else "black")
    ticks = {} if written else {"fontsize": 5}
    ax.set_xticks(range(cols), cka.layers_b, rotation=45 if written else 90, ha="right", **ticks)
    ax.set_yticks(range(rows), cka.layers_a, **ticks)
    ax.set_xlabel(b)
    ax.set_ylabel(a)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, label="linear CKA")
    return save_figure(fig, path)
