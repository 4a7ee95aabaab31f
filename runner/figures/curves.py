"""Learning curves of a run from its metrics.csv: loss and accuracy, train against val."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from matplotlib.ticker import MaxNLocator, PercentFormatter

from archspec.errors import UserError
from runner.figures.figure import new_figure, save_figure

METRICS_FILE = "metrics.csv"
CURVE_COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy")


def read_metrics(metrics_csv: Path) -> dict[str, list[float]]:
    """Column -> values, one per epoch; an empty cell reads as NaN (a gap in the curve)."""
    metrics_csv = Path(metrics_csv)
    try:
        with metrics_csv.open(newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in CURVE_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise UserError(
                    f"{metrics_csv} has no column {', '.join(missing)} "
                    f"(its header is {','.join(reader.fieldnames or []) or 'empty'}): "
                    "is it the metrics.csv of an archspec run?"
                )
            rows = list(reader)
    except OSError as e:
        raise UserError(f"cannot read {metrics_csv}: {e.strerror or e}") from None
    if not rows:
        raise UserError(f"{metrics_csv} has no epochs yet: nothing to plot")
    columns: dict[str, list[float]] = {c: [] for c in CURVE_COLUMNS}
    for line, row in enumerate(rows, start=2):
        for c in CURVE_COLUMNS:
            cell = (row.get(c) or "").strip()
            try:
                columns[c].append(float(cell) if cell else math.nan)
            except ValueError:
                raise UserError(
                    f"{metrics_csv}, line {line}: {c} is {cell!r}, not a number"
                ) from None
    return columns


def plot_curves(metrics_csv: Path, out: Path, title: str) -> Path:
    """Two panels, loss and accuracy per epoch, train and val; the best val epoch is marked."""
    m = read_metrics(metrics_csv)
    epochs = m["epoch"]
    fig = new_figure(10.0, 4.0)
    loss_ax, acc_ax = fig.subplots(1, 2)
    marker = "o" if len(epochs) <= 20 else None  # a few epochs: show the points themselves
    for ax, what in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        ax.plot(epochs, m[f"train_{what}"], label="train", color="tab:blue", marker=marker)
        ax.plot(epochs, m[f"val_{what}"], label="val", color="tab:orange", marker=marker)
        ax.set_xlabel("epoch")
        ax.set_ylabel(what)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    acc_ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    val = [a if not math.isnan(a) else -math.inf for a in m["val_accuracy"]]
    if any(a > -math.inf for a in val):
        best = max(range(len(val)), key=val.__getitem__)  # first epoch with the best val
        acc_ax.scatter([epochs[best]], [val[best]], color="tab:red", zorder=3,
                       label=f"best val {val[best]:.1%} (epoch {epochs[best]:g})")  # fmt: skip
    loss_ax.legend()
    acc_ax.legend(loc="lower right")
    fig.suptitle(f"{title}: learning curves")
    return save_figure(fig, out)
