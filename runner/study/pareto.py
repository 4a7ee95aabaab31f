"""The Pareto frontier of accuracy against a cost, and the report's figure of it.

A variant is on the frontier when no other is at least as accurate for less cost, or more
accurate for the same cost (the design-space view of Radosavovic et al.: populations of models
against what they cost, not one number each). Accuracy is the mean over seeds; the bars are its
standard error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.ticker import NullFormatter, PercentFormatter

from runner.figures.accuracy import TASK_COLORS
from runner.figures.figure import new_figure, save_figure

PARETO_FILE = "pareto.png"


@dataclass(frozen=True)
class Point:
    label: str
    task: str
    accuracy: float
    se: float  # 0 with one seed
    costs: dict[str, float | None]  # cost name -> value (None: not measured)


def frontier(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the (cost, accuracy) points no other point dominates, by rising cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    kept, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            kept.append(i)
            best = points[i][1]
    return kept


def on_frontier(points: Sequence[Point], cost: str) -> set[tuple[str, str]]:
    """(label, task) of the points on each task's frontier for `cost`."""
    found: set[tuple[str, str]] = set()
    for task in dict.fromkeys(p.task for p in points):
        measured = [p for p in points if p.task == task and p.costs.get(cost) is not None]
        pairs = [(float(p.costs[cost]), p.accuracy) for p in measured]
        found |= {(measured[i].label, task) for i in frontier(pairs)}
    return found


def plot_pareto(points: Sequence[Point], costs: Sequence[str], out: Path) -> Path:
    """One panel per cost (log scale); every variant a dot, each task's frontier a line."""
    fig = new_figure(max(5.0, 4.4 * len(costs)), 4.2)
    panels = fig.subplots(1, len(costs), squeeze=False)[0]
    for panel, cost in zip(panels, costs, strict=True):
        for task in dict.fromkeys(p.task for p in points):
            measured = [p for p in points if p.task == task and p.costs.get(cost) is not None]
            if not measured:
                continue
            color = TASK_COLORS.get(task)
            x = [float(p.costs[cost]) for p in measured]
            panel.errorbar(
                x, [p.accuracy for p in measured], yerr=[p.se for p in measured], fmt="o",
                color=color, capsize=3, label=f"{task} task",
            )  # fmt: skip
            best = frontier(list(zip(x, [p.accuracy for p in measured], strict=True)))
            panel.step(
                [x[i] for i in best],
                [measured[i].accuracy for i in best],
                where="post",
                color=color,
                alpha=0.6,
            )
            for p, xi in zip(measured, x, strict=True):
                panel.annotate(p.label, (xi, p.accuracy), fontsize=6, alpha=0.8)
        panel.set_xscale("log")
        panel.xaxis.set_minor_formatter(NullFormatter())  # a narrow range crowds minor labels
        panel.set_xlabel(cost)
        panel.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
        panel.set_ylabel("accuracy (mean over seeds)")
        panel.grid(alpha=0.3)
        panel.legend(fontsize=8)
    fig.suptitle("Accuracy against cost; lines: the Pareto frontier of each task", fontsize=11)
    return save_figure(fig, out / PARETO_FILE)
