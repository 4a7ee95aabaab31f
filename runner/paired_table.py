"""The report's paired comparison: each variant against the sweep's first, seed by seed.

A variant and the base trained with the same seed share the validation split (drawn from the
seed when the data has none), the data order and the weight draw's seed, so their difference on
that seed is free of the split-to-split spread; the mean of these differences, with a Student-t
95% interval, says whether the variant is better or worse, or that the seeds cannot tell.
"""

from __future__ import annotations

from collections.abc import Sequence

from archspec.text import plural
from runner.replicates import Cell, Summaries, headline_field
from runner.stats import paired


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


def paired_section(cells: Sequence[Cell], summaries: Summaries) -> list[str]:
    """Markdown lines, or [] when the sweep has a single variant."""
    variants = list(dict.fromkeys(c.variant for c in cells))
    if len(variants) < 2:
        return []
    by_key = {(c.variant, c.task, c.holdout): c for c in cells}
    base_label = next(c.label for c in cells if c.variant == variants[0])
    lines = [
        "## Paired differences against the first variant",
        "",
        f"Each variant minus {base_label}, on the seeds both were trained with (a seed "
        "gives both the same validation split and data order), in percentage points of "
        "the accuracy each table above reports (held-out test accuracy for a held-out domain). "
        "The interval is Student's t at 95% over the per-seed differences; the verdict is "
        "*better* or *worse* only when it leaves out 0.",
        "",
        "| Variant | Task | Seeds | Per-seed differences | Mean difference | 95% interval "
        "| Verdict |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for cell in cells:
        if cell.variant == variants[0]:
            continue
        base = by_key.get((variants[0], cell.task, cell.holdout))
        if base is None:
            continue
        field = headline_field(cell)
        result = paired(base.per_seed(summaries, field), cell.per_seed(summaries, field))
        task = cell.task + (f", {cell.holdout} held out" if cell.holdout else "")
        if result.estimate is None:
            lines.append(f"| {cell.label} | {task} | 0 | | | | no seed in common |")
            continue
        interval = result.estimate.interval
        lines.append(
            f"| {cell.label} | {task} | {', '.join(map(str, result.differences))} "
            f"| {' '.join(_points(d) for d in result.differences.values())} "
            f"| {_points(result.estimate.mean)} "
            f"| {'' if interval is None else ' to '.join(map(_points, interval))} "
            f"| {result.verdict} |"
        )
    counts = {len(c.runs) for c in cells}
    if counts == {1}:
        lines += [
            "",
            f"With {plural(1, 'seed')} there is no spread to measure: train with --seeds 3 "
            "(or more) for an interval.",
        ]
    return [*lines, ""]
