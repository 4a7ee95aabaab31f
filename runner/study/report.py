"""The sweep's report: `<out>/report.md` with accuracy tables, a bar chart, every run's learned
filters and, per spec trained for both tasks, the category-vs-domain comparison; at the end, a
Mermaid diagram of each network.

With several seeds, every accuracy is the mean ± standard error over them (`55.0% ± 1.2 (n=3)`,
the error in percentage points), each variant is compared with the first seed by seed, and the
figures and the comparison of each variant are those of its first seed. With a grid, a figure
plots the accuracy against each swept value. A cost section puts accuracy beside parameters,
mult-adds, latency and throughput, with the Pareto frontier.

Every link in report.md is relative to the report's folder, so the folder can be moved whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from archspec.errors import UserError
from archspec.io import write_text_atomic
from runner.compare import ComparisonResult, compare_runs
from runner.figures.accuracy import plot_accuracy
from runner.study.cost_table import cost_section
from runner.study.diagram_section import diagram_section
from runner.study.grid import point_label
from runner.study.grid_plot import plot_grid
from runner.study.lodo_table import lodo_section
from runner.study.paired_table import paired_section
from runner.study.plan import SweepRun
from runner.study.replicates import Cell, group_seeds
from runner.study.stats import Estimate
from runner.study.variant_table import variant_table
from runner.training.rundir import RunDir
from runner.visualize.filters import VisualizeResult, visualize_run

REPORT_FILE = "report.md"
ACCURACY_FILE = "accuracy.png"
SETTINGS = ("epochs", "batch_size", "lr", "weight_decay", "seed", "data", "holdout_domain")


def _link(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


def _summary(run: SweepRun) -> dict[str, Any]:
    run_dir = RunDir(run.path)
    if not run_dir.finished:
        raise UserError(f"{run.path} has no summary.json: the run has not finished")
    return run_dir.read_summary()


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _mult_adds(value: int | None) -> str:
    if value is None:
        return ""
    return f"{value / 1e9:.2f} G" if value >= 1e8 else f"{value / 1e6:.2f} M"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _estimated(estimate: Estimate | None) -> str:
    return "" if estimate is None else estimate.percent()


def _epochs(cell: Cell, summaries: dict[str, dict]) -> str:
    """The best epoch, or the range of the seeds' best epochs."""
    epochs = sorted(
        int(v) for v in cell.per_seed(summaries, "best_epoch").values() if v is not None
    )
    if not epochs:
        return ""
    return str(epochs[0]) if epochs[0] == epochs[-1] else f"{epochs[0]}–{epochs[-1]}"


def _runs(cell: Cell, base: Path) -> str:
    if len(cell.runs) == 1:
        return f"[{cell.first.name}]({_link(cell.first.path, base)}/)"
    return " ".join(f"[seed {r.seed}]({_link(r.path, base)}/)" for r in cell.runs)


def _row_label(cell: Cell, summaries: dict[str, dict]) -> str:
    name = cell.label if cell.first.grid else summaries[cell.first.name].get("spec_name")
    held = f", {cell.holdout} held out" if cell.holdout else ""
    return f"{name or cell.label}{held}"


def accuracy_table(cells: Sequence[Cell], summaries: dict[str, dict], base: Path) -> str:
    """One row per variant (and held-out domain); accuracies as mean ± SE over its seeds."""
    lines = [
        "| Spec | Parameters | Mult-adds | Best val accuracy | Best epoch | Final val accuracy "
        "| Seconds / epoch | Run |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for cell in cells:
        s = summaries[cell.first.name]
        seconds = cell.estimate(summaries, "seconds_per_epoch")
        lines.append(
            f"| {_row_label(cell, summaries)} | {_count(s.get('params'))} "
            f"| {_mult_adds(s.get('mult_adds'))} "
            f"| {_estimated(cell.estimate(summaries, 'best_val_accuracy'))} "
            f"| {_epochs(cell, summaries)} "
            f"| {_estimated(cell.estimate(summaries, 'final_val_accuracy'))} "
            f"| {'' if seconds is None else f'{seconds.mean:.1f}'} "
            f"| {_runs(cell, base)} |"
        )
    return "\n".join(lines)


def settings_line(runs: Sequence[SweepRun], base: Path) -> str:
    """The training settings, read back from the runs' config.yaml (`varies` where they differ)."""
    configs = []
    for run in runs:
        path = run.path / "config.yaml"
        configs.append(yaml.safe_load(path.read_text()) if path.is_file() else {})
    parts = []
    for field in SETTINGS:
        values = {repr(c.get(field)) for c in configs}
        if field == "seed" and len(values) > 1:
            seeds = sorted({int(c.get("seed") or 0) for c in configs})
            parts.append(f"seeds {', '.join(map(str, seeds))}")
            continue
        if len(values) > 1:
            parts.append(f"{field} varies")
            continue
        value = configs[0].get(field) if configs else None
        if field == "data":
            value = "the embedded synthetic set" if value is None else f"`{value}`"
        elif field == "holdout_domain" and value is None:
            continue
        parts.append(f"{field.replace('_', ' ')} {value}")
    return "Training settings: " + ", ".join(parts) + "."


def _column(run: SweepRun) -> str:
    held = getattr(run, "holdout", None)
    return f"{run.task} task" + (f", {held} held out" if held else "")


def filters_table(
    spec_runs: Sequence[SweepRun], figures: dict[str, VisualizeResult], base: Path
) -> str:
    """One row per figure (layer), one column per task."""
    header = "| Layer | " + " | ".join(_column(r) for r in spec_runs) + " |"
    lines = [header, "|---|" + "---|" * len(spec_runs)]
    first = figures[spec_runs[0].name].figures
    for index, fig in enumerate(first):
        label = f"{fig.layer} as RGB" if fig.kind == "rgb" else fig.layer
        cells = []
        for run in spec_runs:
            path = figures[run.name].figures[index].path
            cells.append(f"![{run.name} {label}]({_link(path, base)})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def spec_section(
    spec_runs: Sequence[SweepRun],
    figures: dict[str, VisualizeResult],
    comparison: ComparisonResult | None,
    base: Path,
    several_seeds: bool = False,
) -> list[str]:
    first = spec_runs[0]
    lines = [f"## {first.label} (`{first.spec_path.as_posix()}`)", ""]
    if first.spec.description:
        lines += [first.spec.description, ""]
    if any(r.grid for r in spec_runs):
        sets = " ".join(f"--set {s}" for s in first.spec_set)
        lines += [f"Built from the spec with `{sets}`.", ""]
    if several_seeds:
        lines += [f"Figures of seed {first.seed}; the other seeds' are in their run folders.", ""]
    lines += ["### Learning curves", ""]
    for run in spec_runs:
        curves = figures[run.name].curves
        if curves is not None:
            lines += [f"![{run.name} learning curves]({_link(curves, base)})", ""]
        confusion = run.path / "confusion.png"
        if confusion.is_file():
            lines += [f"![{run.name} confusion matrix]({_link(confusion, base)})", ""]
    lines += ["### Learned filters (best epoch)", "", filters_table(spec_runs, figures, base), ""]
    without = figures[first.name].without_figure
    if without is not None:
        lines += [without, ""]
    if comparison is not None:
        c = comparison.comparison
        lines += [
            f"### {c.a.label.capitalize()} vs {c.b.label}: filters and linear CKA",
            "",
            *(
                [
                    f"CKA baseline: {c.a.label} seed {first.seed} against another seed of the "
                    "same spec and task, layer by layer: the noise floor. A layer's two tasks "
                    "differ by more than seeds do where it reads *apart*. The two tasks' runs "
                    "share their seed's start and the baseline's runs do not, so *alike* may "
                    "owe to that start.",
                    "",
                ]
                if several_seeds
                else []
            ),
            c.table(),
            "",
            c.legend(),
            "",
            c.reading(),
            "",
            f"![{c.a.label} vs {c.b.label}: linear CKA of every layer pair]"
            f"({_link(comparison.heatmap, base)})",
            "",
            f"Side-by-side figures and the whole CKA matrix: [{_link(comparison.markdown, base)}]"
            f"({_link(comparison.markdown, base)})",
            "",
        ]
    return lines


def _pairs_with(category: Cell, other: Cell) -> bool:
    return other.variant == category.variant and other.task == "domain" and other.holdout is None


def _specs(by_variant: dict[str, list[SweepRun]]) -> str:
    files = {runs[0].spec_path for runs in by_variant.values()}
    if len(files) == len(by_variant):
        return _plural(len(files), "spec")
    return f"{_plural(len(files), 'spec')} in {_plural(len(by_variant), 'variant')}"


# Long: the report's sections, in the order they appear in report.md.
def write_report(
    out: Path, runs: Sequence[SweepRun], *, say: Callable[[str], None] = print
) -> Path:
    """Visualize every variant's first seed, compare the two tasks of each, and write
    `<out>/report.md`."""
    out = Path(out)
    summaries = {run.name: _summary(run) for run in runs}
    cells = group_seeds(runs)
    by_variant: dict[str, list[SweepRun]] = {}
    for cell in cells:
        by_variant.setdefault(cell.variant, []).append(cell.first)  # its first seed
    shown = [run for variant_runs in by_variant.values() for run in variant_runs]
    tasks = list(dict.fromkeys(run.task for run in runs))

    figures = {run.name: visualize_run(run.path) for run in shown}
    comparisons = _compare_tasks(cells)
    names = [variant_runs[0].label for variant_runs in by_variant.values()]
    accuracy = _mean_accuracy(cells, summaries)
    chart = plot_accuracy(
        names, tasks, accuracy, out / ACCURACY_FILE, "Best validation accuracy per spec and task"
    )
    seeds = sorted({run.seed for run in runs})

    lines = [
        f"# Study: {_specs(by_variant)} x {_plural(len(tasks), 'task')}"
        + (f" x {_plural(len(seeds), 'seed')}" if len(seeds) > 1 else ""),
        "",
        settings_line(runs, out),
        "",
    ]
    if len(seeds) > 1:
        lines += [
            "Every accuracy is the mean ± standard error over the seeds (sample standard "
            "deviation / sqrt(n), in percentage points), n the number of seeds; the chart "
            "shows the means.",
            "",
        ]
    lines += [f"![Best validation accuracy per spec and task]({_link(chart, out)})", ""]
    for task in tasks:
        task_cells = [c for c in cells if c.task == task]
        table = accuracy_table(task_cells, summaries, out)
        lines += [f"## {task.capitalize()} task", "", table, ""]
    lines += cost_section(cells, summaries, out)
    if any(run.grid for run in runs):
        grid = plot_grid(cells, summaries, out)
        lines += [
            "## Accuracy against the swept values",
            "",
            f"![Accuracy against each swept value]({_link(grid, out)})",
            "",
        ]
    lines += paired_section(cells, summaries)
    firsts = [variant_runs[0] for variant_runs in by_variant.values()]
    lines += variant_table(
        [(r.spec_path, r.spec) for r in firsts], [point_label(r.grid) for r in firsts]
    )
    lines += lodo_section(cells, summaries)
    for variant, variant_runs in by_variant.items():
        comparison = comparisons.get(variant)
        lines += spec_section(variant_runs, figures, comparison, out, len(seeds) > 1)
    lines += diagram_section(firsts)
    report = out / REPORT_FILE
    write_text_atomic(report, "\n".join(lines).rstrip() + "\n")
    say(f"wrote {report}")
    return report


def _compare_tasks(cells: Sequence[Cell]) -> dict[str, ComparisonResult]:
    """Each variant's category run against its domain run (first seeds), by filters and CKA."""
    comparisons: dict[str, ComparisonResult] = {}
    for cell in cells:
        domain = next((c for c in cells if _pairs_with(cell, c)), None)
        if cell.task == "category" and cell.holdout is None and domain is not None:
            # With seeds, the floor is seed against seed of the same spec and task: how far
            # apart two trainings land by chance, which the two tasks must exceed to differ.
            seed_baseline = cell.runs[1].path if len(cell.runs) > 1 else None
            comparisons[cell.variant] = compare_runs(
                cell.first.path, domain.first.path, baseline=seed_baseline
            )

    return comparisons


def _mean_accuracy(
    cells: Sequence[Cell], summaries: dict[str, Any]
) -> dict[tuple[str, str], float]:
    """(variant label, task) -> best validation accuracy, averaged over the seeds' means."""
    means: dict[tuple[str, str], list[float]] = {}
    for cell in cells:
        estimate = cell.estimate(summaries, "best_val_accuracy")
        if estimate is not None:
            means.setdefault((cell.label, cell.task), []).append(estimate.mean)
    return {key: sum(v) / len(v) for key, v in means.items()}
