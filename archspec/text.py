"""Words in messages: counts ("1 image", "2 images", never "1 images") and lists of layer names
("Conv2d-1, -4, -7")."""

from __future__ import annotations

from collections.abc import Iterable


def plural(n: int, noun: str, many: str | None = None) -> str:
    """`n` and `noun`, in the plural (`many`, else noun + "s") unless n is 1."""
    return f"{n} {noun}" if n == 1 else f"{n} {many or noun + 's'}"


def layer_names(names: Iterable[str]) -> str:
    """`Conv2d-1, Conv2d-4, Conv2d-7` -> `Conv2d-1, -4, -7`: each kind is named once in a row."""
    parts, kind = [], None
    for name in names:
        prefix, dash, number = name.rpartition("-")
        if dash and prefix == kind:
            parts.append(f"-{number}")
        else:
            parts.append(name)
            kind = prefix if dash else None
    return ", ".join(parts)
