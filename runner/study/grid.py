"""`--grid PATH=V1,V2,...`: variants of a spec, one per value, built in memory with `--set`.

Each `--grid` is one axis; several make their product. A variant is the base spec with one
`PATH=VALUE` per axis applied after the sweep's own `--set`s (so no file is written), and is
named by its values in a form safe for a folder name: `alpha-kernel_size=7-out_channels=32`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from archspec.errors import UserError

GRID_EXAMPLE = "--grid features.0.kernel_size=3,5,7"
Axis = tuple[str, tuple[str, ...]]  # (PATH, its values as written)
Point = tuple[tuple[str, str], ...]  # one (PATH, VALUE) per axis
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def _split_values(text: str) -> list[str]:
    """Split on the commas outside brackets, so a list value such as [3, 5] stays whole."""
    values, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(char, 0)
        if char == "," and depth == 0:
            values.append(text[start:i].strip())
            start = i + 1
    values.append(text[start:].strip())
    return values


def parse_grid(arguments: Sequence[str]) -> list[Axis]:
    """Each `PATH=V1,V2,...` argument -> (PATH, values); every mistake named with its fix."""
    axes: list[Axis] = []
    for argument in arguments:
        path, equals, rest = argument.partition("=")
        path = path.strip()
        if not equals or not path:
            raise UserError(f"--grid {argument}: --grid takes PATH=V1,V2,..., e.g. {GRID_EXAMPLE}")
        values = _split_values(rest)
        if any(not v for v in values):
            raise UserError(
                f"--grid {argument}: an empty value; give the values separated by commas, "
                f"e.g. {GRID_EXAMPLE}"
            )
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise UserError(f"--grid {argument}: {', '.join(repeated)} given twice; give it once")
        if any(path == other for other, _ in axes):
            raise UserError(
                f"--grid {path} is given twice: give all its values in one --grid {path}=V1,V2"
            )
        axes.append((path, tuple(values)))
    return axes


def grid_points(axes: Sequence[Axis]) -> list[Point]:
    """Every combination of one value per axis, the first axis varying slowest; [()] for none."""
    return [
        tuple(zip([p for p, _ in axes], values, strict=True))
        for values in itertools.product(*(v for _, v in axes))
    ]


def point_sets(point: Point) -> tuple[str, ...]:
    """The `--set` arguments that make the variant."""
    return tuple(f"{path}={value}" for path, value in point)


def _keys(paths: Sequence[str]) -> dict[str, str]:
    """The short name of each path in a variant's name: its last part (`kernel_size`), or the
    whole path where two axes end alike (features.0.kernel_size vs features.3.kernel_size)."""
    last = {p: p.rsplit(".", 1)[-1] for p in paths}
    shared = {k for k in last.values() if list(last.values()).count(k) > 1}
    return {p: (p if last[p] in shared else last[p]) for p in paths}


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_") or "_"


def point_suffix(point: Point) -> str:
    """`kernel_size=7-out_channels=32`: what a variant's folder names add to the spec's stem."""
    keys = _keys([p for p, _ in point])
    return "-".join(f"{_safe(keys[p])}={_safe(v)}" for p, v in point)


def point_label(point: Point) -> str:
    """`kernel_size=7, out_channels=32`, the values as written, for tables and figures."""
    keys = _keys([p for p, _ in point])
    return ", ".join(f"{keys[p]}={v}" for p, v in point)


def check_distinct_names(axes: Sequence[Axis]) -> None:
    """Two values that differ only in characters a folder name cannot hold would share runs."""
    for path, values in axes:
        seen: dict[str, str] = {}
        for value in values:
            other = seen.setdefault(_safe(value), value)
            if other != value:
                raise UserError(
                    f"--grid {path}: {other!r} and {value!r} would name the same run folders "
                    f"({_safe(value)}); write the values alike, e.g. both as [3, 5]"
                )
