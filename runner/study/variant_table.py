"""The report's "what each variant changes" table: every spec of a sweep diffed against one base.

The base is `alexnet.yaml` when the sweep has it (the study's variants are diffs of it), else the
sweep's first spec. Each row names the layers that change and the cost beside the base's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from archspec.diff import LayerChange, SpecDiff, diff_specs
from archspec.spec import Spec

STUDY_BASE = "alexnet.yaml"
MAX_LISTED = 6  # layers named in one cell; the rest are counted


def choose_base(specs: Sequence[tuple[Path, Spec]]) -> int:
    """The index of the base among `specs`."""
    for index, (path, _) in enumerate(specs):
        if path.name == STUDY_BASE:
            return index
    return 0


def variant_table(
    specs: Sequence[tuple[Path, Spec]], grids: Sequence[str] | None = None
) -> list[str]:
    """Markdown lines: a heading, a sentence naming the base, and one row per other spec.

    `grids`: beside each spec, the `--grid` values that made it from its file ("" for none), so
    the variants of one file are told apart."""
    grids = list(grids) if grids is not None else [""] * len(specs)
    at = choose_base(specs)
    base_path, base = specs[at]
    others = [(p, s, g) for i, ((p, s), g) in enumerate(zip(specs, grids, strict=True)) if i != at]
    if not others:
        return []
    base_grid = f", {grids[at]}" if grids[at] else ""
    lines = [
        "## What each variant changes",
        "",
        f"Each spec against `{base_path.as_posix()}` ({base.name}{base_grid}), from `archspec "
        "diff` "
        "(layers in the study's naming; receptive field of the last spatial layer).",
        "",
        "| Spec | Changes | Parameters | Mult-adds | Receptive field |",
        "|---|---|---:|---:|---:|",
    ]
    for path, spec, grid in others:
        diff = diff_specs(base, spec)
        where = f"`{path.as_posix()}`" + (f", {grid}" if grid else "")
        lines.append(
            f"| {spec.name} ({where}) | {_changes(diff)} | "
            f"{_delta(diff.a.params, diff.b.params)} | "
            f"{_delta(diff.a.mult_adds, diff.b.mult_adds)} | {_rf(diff)} |"
        )
    return [*lines, ""]


def _changes(diff: SpecDiff) -> str:
    if diff.equal:
        return "none: the same model"
    # a size inferred from the layer before follows from that layer's change: not listed
    cells = [cell for cell in map(_change, diff.layers) if cell]
    more = len(cells) - MAX_LISTED
    cells = cells[:MAX_LISTED]
    if more > 0:
        cells.append(f"and {more} more")
    if "input_shape" in diff.header:
        cells.insert(0, "input shape")
    return "; ".join(cells) or "only module names"


def _change(change: LayerChange) -> str:
    """What one layer's change says in the table; "" when only its inferred in-size changed."""
    if change.b is None:
        return f"{change.a.name} removed"
    if change.a is None:
        return f"{change.b.name} added"
    inferred = ("module", "output", change.b.layer.in_size_field)
    fields = ", ".join(
        f"{k} {_short(a)}→{_short(b)}" for k, (a, b) in change.fields.items() if k not in inferred
    )
    return f"{change.a.name}: {fields}" if fields else ""


def _short(value: object) -> str:
    if isinstance(value, list):
        return "x".join(map(str, value))
    return str(value)


def _delta(a: int, b: int) -> str:
    if a == b:
        return f"{b:,} (same)"
    return f"{b:,} ({(b - a) / a:+.0%})" if a else f"{b:,}"


def _rf(diff: SpecDiff) -> str:
    a, b = diff.a.receptive_field, diff.b.receptive_field
    text = "-" if b is None else (str(b[0]) if b[0] == b[1] else f"{b[0]}x{b[1]}")
    if a is not None and b is not None and a != b:
        text += f" (was {a[0] if a[0] == a[1] else f'{a[0]}x{a[1]}'})"
    return text
