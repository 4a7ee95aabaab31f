"""The sweep's report: `<out>/report.md` with accuracy tables, a bar chart, every run's learned
filters and, per spec trained for both tasks, the category-vs-domain comparison.

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
from runner.lodo_table import lodo_section
from runner.rundir import RunDir
from runner.sweep_plan import SweepRun
from runner.variant_table import variant_table
from runner.visualize.accuracy import plot_accuracy
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


def accuracy_table(runs: Sequence[SweepRun], summaries: dict[str, dict], base: Path) -> str:
    lines = [
        "| Spec | Parameters | Mult-adds | Best val accuracy | Best epoch | Final val accuracy "
        "| Seconds / epoch | Run |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        s = summaries[run.name]
        seconds = s.get("seconds_per_epoch")
        lines.append(
            f"| {s.get('spec_name', run.spec.name)} | {_count(s.get('params'))} "
            f"| {_mult_adds(s.get('mult_adds'))} | {_percent(s.get('best_val_accuracy'))} "
            f"| {s.get('best_epoch', '')} | {_percent(s.get('final_val_accuracy'))} "
            f"| {'' if seconds is None else f'{seconds:.1f}'} "
            f"| [{run.name}]({_link(run.path, base)}/) |"
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
) -> list[str]:
    first = spec_runs[0]
    lines = [f"## {first.spec.name} (`{first.spec_path.as_posix()}`)", ""]
    if first.spec.description:
        lines += [first.spec.description, ""]
    lines += ["### Learning curves", ""]
    for run in spec_runs:
        curves = figures[run.name].curves
        if curves is not None:
            lines += [f"![{run.name} learning curves]({_link(curves, base)})", ""]
        confusion = run.path / "confusion.png"
        if confusion.is_file():
            lines += [f"![{run.name} confusion matrix]({_link(confusion, base)})", ""]
    lines += ["### Learned filters (best epoch)", "", filters_table(spec_runs, figures, base), ""]
    if comparison is not None:
        c = comparison.comparison
        lines += [
            f"### {c.a.label.capitalize()} vs {c.b.label}: filters and linear CKA",
            "",
            c.table(),
            "",
            c.legend(),
            "",
            c.reading(),
            "",
            f"![{c.a.label} vs {c.b.label}: linear CKA of every conv layer pair]"
            f"({_link(comparison.heatmap, base)})",
            "",
            f"Side-by-side figures and the whole CKA matrix: [{_link(comparison.markdown, base)}]"
            f"({_link(comparison.markdown, base)})",
            "",
        ]
    return lines


def write_report(
    out: Path, runs: Sequence[SweepRun], *, say: Callable[[str], None] = print
) -> Path:
    """Visualize every run, compare the two tasks of each spec, and write `<out>/report.md`."""
    out = Path(out)
    summaries = {run.name: _summary(run) for run in runs}
    by_spec: dict[Path, list[SweepRun]] = {}
    for run in runs:
        by_spec.setdefault(run.spec_path, []).append(run)
    tasks = list(dict.fromkeys(run.task for run in runs))

    figures = {run.name: visualize_run(run.path) for run in runs}
    comparisons: dict[Path, ComparisonResult] = {}
    for spec_path, spec_runs in by_spec.items():
        by_task = {r.task: r for r in spec_runs}
        if "category" in by_task and "domain" in by_task:
            comparisons[spec_path] = compare_runs(by_task["category"].path, by_task["domain"].path)

    names = [spec_runs[0].spec.name for spec_runs in by_spec.values()]
    accuracy = {
        (run.spec.name, run.task): summaries[run.name]["best_val_accuracy"]
        for run in runs
        if summaries[run.name].get("best_val_accuracy") is not None
    }
    chart = plot_accuracy(
        names, tasks, accuracy, out / ACCURACY_FILE, "Best validation accuracy per spec and task"
    )

    lines = [
        f"# Study: {_plural(len(by_spec), 'spec')} x {_plural(len(tasks), 'task')}",
        "",
        settings_line(runs, out),
        "",
        f"![Best validation accuracy per spec and task]({_link(chart, out)})",
        "",
    ]
    for task in tasks:
        task_runs = [r for r in runs if r.task == task]
        lines += [f"## {task.capitalize()} task", "", accuracy_table(task_runs, summaries, out), ""]
    lines += variant_table([(path, spec_runs[0].spec) for path, spec_runs in by_spec.items()])
    lines += lodo_section(runs, summaries)
    for spec_path, spec_runs in by_spec.items():
        lines += spec_section(spec_runs, figures, comparisons.get(spec_path), out)
    report = out / REPORT_FILE
    write_text_atomic(report, "\n".join(lines).rstrip() + "\n")
    say(f"wrote {report}")
    return report
