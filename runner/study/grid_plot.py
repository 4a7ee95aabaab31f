"""The report's grid figure: the metric against each `--grid` axis, with standard-error bars.

One panel per axis, its values along x in the order given. A line is one task (and held-out
domain) with the other axes held at one combination of their values, so a product grid shows
every slice, not an average that could hide an interaction. The bars are the standard error
over seeds; with one seed there is none to draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.ticker import PercentFormatter

from runner.figures.figure import new_figure, save_figure
from runner.study.replicates import Cell, Summaries, headline_field

GRID_FILE = "grid.png"


def grid_axes(cells: Sequence[Cell]) -> list[tuple[str, list[str]]]:
    """The grid's axes as the runs carry them: each path and its values in plan order."""
    axes: dict[str, list[str]] = {}
    for cell in cells:
        for path, value in cell.first.grid:
            values = axes.setdefault(path, [])
            if value not in values:
                values.append(value)
    return list(axes.items())


def plot_grid(cells: Sequence[Cell], summaries: Summaries, out: Path) -> Path:
    axes = grid_axes(cells)
    fig = new_figure(max(5.0, 4.6 * len(axes)), 4.2)
    panels = fig.subplots(1, len(axes), squeeze=False)[0]
    for panel, (path, values) in zip(panels, axes, strict=True):
        lines: dict[tuple, dict[str, tuple[float, float]]] = {}
        for cell in cells:
            estimate = cell.estimate(summaries, headline_field(cell))
            if estimate is None:
                continue
            point = dict(cell.first.grid)
            others = tuple((p, v) for p, v in cell.first.grid if p != path)
            key = (cell.first.spec.name, cell.task, cell.holdout, others)
            lines.setdefault(key, {})[point[path]] = (estimate.mean, estimate.se or 0.0)
        for (spec, task, holdout, others), points in lines.items():
            x = [i for i, v in enumerate(values) if v in points]
            y = [points[values[i]][0] for i in x]
            err = [points[values[i]][1] for i in x]
            name = ", ".join([spec, f"{task} task"] + ([f"{holdout} held out"] if holdout else []))
            name += "".join(f", {p.rsplit('.', 1)[-1]}={v}" for p, v in others)
            panel.errorbar(x, y, yerr=err, marker="o", capsize=4, label=name)
        panel.set_xticks(np.arange(len(values)), values)
        panel.set_xlabel(path)
        panel.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
        panel.set_ylabel("accuracy (± standard error over seeds)")
        panel.grid(axis="y", alpha=0.3)
        panel.legend(fontsize=7)
    fig.suptitle("Accuracy against each swept value", fontsize=11)
    return save_figure(fig, out / GRID_FILE)
