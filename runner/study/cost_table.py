"""The report's cost section: every variant's accuracy beside what it costs, and the Pareto figure.

Parameters and mult-adds come from shapes (summary.json). Latency is milliseconds per image at
batch 1, measured by runner/study/latency.py on the run's device; throughput is the training images
per second on the run's own device at its training batch, the median over its epochs (metrics.csv),
averaged over seeds.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

from runner.study.latency import run_latency
from runner.study.pareto import Point, on_frontier, plot_pareto
from runner.study.replicates import Cell, Summaries, headline_field
from runner.training.rundir import RunDir

COSTS = ("parameters", "mult-adds", "ms / image")
Measure = Callable[[Path], tuple[float | None, str]]  # run -> (ms per image, device in words)


def _throughput(cell: Cell) -> float | None:
    """Training images / s: each seed's median over epochs, then their mean."""
    medians = []
    for run in cell.runs:
        values = [float(r["images_per_second"]) for r in RunDir(run.path).read_metrics()
                  if r.get("images_per_second")]  # fmt: skip
        if values:
            medians.append(statistics.median(values))
    return sum(medians) / len(medians) if medians else None


def _batch(cell: Cell) -> str:
    import yaml

    path = cell.first.path / "config.yaml"
    config = yaml.safe_load(path.read_text()) if path.is_file() else {}
    return str((config or {}).get("batch_size", ""))


def cost_section(
    cells: Sequence[Cell], summaries: Summaries, out: Path, measure: Measure = run_latency
) -> list[str]:
    """Markdown lines with a table and, for two or more variants, the Pareto figure."""
    points, rows = [], []
    for cell in cells:
        estimate = cell.estimate(summaries, headline_field(cell))
        if estimate is None:
            continue
        s = summaries[cell.first.name]
        ms, device = measure(cell.first.path)
        speed = _throughput(cell)
        label = cell.label + (f", {cell.holdout} held out" if cell.holdout else "")
        point = Point(label, cell.task, estimate.mean, estimate.se or 0.0,
                      {"parameters": s.get("params"), "mult-adds": s.get("mult_adds"),
                       "ms / image": ms})  # fmt: skip
        points.append(point)
        rows.append((point, estimate.percent(), ms, device, speed, _batch(cell)))
    if not rows:
        return []
    frontiers = {cost: on_frontier(points, cost) for cost in COSTS}
    lines = [
        "## Cost beside accuracy",
        "",
        "Latency: milliseconds per image at batch 1 (fp32, median of repeated passes after a "
        "warm-up) on the run's device. Throughput: training images per second at the training "
        "batch, on the device the run trained on. *Frontier*: the costs for which no other "
        "variant of the task is as accurate for less.",
        "",
        "| Spec | Task | Accuracy | Parameters | Mult-adds | ms / image, batch 1 "
        "| Training images / s | Frontier |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for point, accuracy, ms, device, speed, batch in rows:
        params, mult_adds = point.costs["parameters"], point.costs["mult-adds"]
        on = [c for c in COSTS if (point.label, point.task) in frontiers[c]]
        lines.append(
            f"| {point.label} | {point.task} | {accuracy} "
            f"| {'' if params is None else f'{params:,}'} "
            f"| {'' if mult_adds is None else f'{mult_adds:,}'} "
            f"| {'' if ms is None else f'{ms:.2f} '}({device}) "
            f"| {'' if speed is None else f'{speed:,.0f} (batch {batch})'} "
            f"| {', '.join(on)} |"
        )
    lines.append("")
    if len({p.label for p in points}) > 1:
        figure = plot_pareto(points, COSTS, out)
        lines += [f"![Accuracy against cost, with the Pareto frontier]({figure.name})", ""]
    return lines
