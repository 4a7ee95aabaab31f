"""Bar chart of accuracies: specs along x, one bar per task (the sweep report's overview)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.ticker import PercentFormatter

from runner.figures.figure import new_figure, save_figure

TASK_COLORS = {"category": "tab:blue", "domain": "tab:orange"}


def plot_accuracy(
    specs: Sequence[str],
    tasks: Sequence[str],
    accuracy: Mapping[tuple[str, str], float],
    out: Path,
    title: str,
) -> Path:
    """accuracy[(spec, task)] in [0, 1]; a missing pair leaves a gap. Values are printed on bars."""
    x = np.arange(len(specs))
    width = 0.8 / max(len(tasks), 1)
    fig = new_figure(max(5.0, 1.3 * len(specs) + 2.0), 4.2)
    ax = fig.add_subplot()
    for t, task in enumerate(tasks):
        values = [accuracy.get((spec, task), np.nan) for spec in specs]
        offset = (t - (len(tasks) - 1) / 2) * width
        bars = ax.bar(x + offset, values, width, label=f"{task} task", color=TASK_COLORS.get(task))
        ax.bar_label(bars, labels=[f"{v:.1%}" if v == v else "" for v in values], fontsize=8)
    ax.set_xticks(x, specs, rotation=20, ha="right")
    ax.set_ylim(0, 1.22)  # the band above 100% holds the bar labels and the legend
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.set_ylabel("best validation accuracy")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", ncols=max(len(tasks), 1), fontsize=9)
    ax.set_title(title, fontsize=11)
    return save_figure(fig, out)
