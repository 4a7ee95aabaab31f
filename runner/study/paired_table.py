"""The report's paired comparison: each variant against the sweep's first, seed by seed.

A variant and the base trained with the same seed share the validation split (drawn from the
seed when the data has none), the data order and the weight draw's seed, so their difference on
that seed is free of the split-to-split spread; the mean of these differences, with a Student-t
95% interval, says whether the variant is better or worse, or that the seeds cannot tell.
"""

from __future__ import annotations

from collections.abc import Sequence

from archspec.text import plural
from runner.study.replicates import Cell, Summaries, domain_average, headline_field
from runner.study.stats import paired


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


def _comparisons(
    cells: Sequence[Cell], summaries: Summaries, base: str
) -> list[tuple[str, str, dict[int, float], dict[int, float]]]:
    """(variant label, task in words, the base's per-seed values, the variant's), cell by cell,
    then, per variant with held-out domains, the average over the domains both have."""
    by_key = {(c.variant, c.task, c.holdout): c for c in cells}
    rows = []
    held: dict[str, list[tuple[Cell, Cell]]] = {}
    for cell in cells:
        other = by_key.get((base, cell.task, cell.holdout))
        if cell.variant == base or other is None:
            continue
        field = headline_field(cell)
        task = cell.task + (f", {cell.holdout} held out" if cell.holdout else "")
        rows.append(
            (cell.label, task, other.per_seed(summaries, field), cell.per_seed(summaries, field))
        )
        if cell.holdout:
            held.setdefault(cell.label, []).append((other, cell))
    for label, pairs in held.items():
        domains = ", ".join(cell.holdout or "" for _, cell in pairs)
        rows.append(
            (
                label,
                f"{pairs[0][1].task}, average of {domains} held out",
                domain_average([b.per_seed(summaries, "test_accuracy") for b, _ in pairs]),
                domain_average([c.per_seed(summaries, "test_accuracy") for _, c in pairs]),
            )
        )
    return rows


def paired_section(cells: Sequence[Cell], summaries: Summaries) -> list[str]:
    """Markdown lines, or [] when the sweep has a single variant."""
    variants = list(dict.fromkeys(c.variant for c in cells))
    if len(variants) < 2:
        return []
    base_label = next(c.label for c in cells if c.variant == variants[0])
    comparisons = _comparisons(cells, summaries, variants[0])
    lines = [
        "## Paired differences against the first variant",
        "",
        f"Each variant minus {base_label}, on the seeds both were trained with (a seed "
        "gives both the same validation split and data order), in percentage points of "
        "the accuracy each table above reports (held-out test accuracy for a held-out domain). "
        "The interval is Student's t at 95% over the per-seed differences; the verdict is "
        "*better* or *worse* only when it leaves out 0. Each row is its own test: of "
        f"{plural(len(comparisons), 'row')}, about 1 in 20 reads better or worse by chance "
        "where nothing differs.",
        "",
        "| Variant | Task | Seeds | Per-seed differences | Mean difference | 95% interval "
        "| Verdict |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for label, task, base, variant in comparisons:
        result = paired(base, variant)
        if result.estimate is None:
            lines.append(f"| {label} | {task} | 0 | | | | no seed in common |")
            continue
        interval = result.estimate.interval
        lines.append(
            f"| {label} | {task} | {', '.join(map(str, result.differences))} "
            f"| {' '.join(_points(d) for d in result.differences.values())} "
            f"| {_points(result.estimate.mean)} "
            f"| {'' if interval is None else ' to '.join(map(_points, interval))} "
            f"| {result.verdict} |"
        )
    if {len(c.runs) for c in cells} == {1}:
        lines += [
            "",
            "With one seed there is no spread to measure: train with --seeds 3 (or more) for "
            "an interval.",
        ]
    return [*lines, ""]
