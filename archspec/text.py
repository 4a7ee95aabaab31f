"""Words for counts in messages: "1 image", "2 images", never "1 images"."""

from __future__ import annotations


def plural(n: int, noun: str, many: str | None = None) -> str:
    """`n` and `noun`, in the plural (`many`, else noun + "s") unless n is 1."""
    return f"{n} {noun}" if n == 1 else f"{n} {many or noun + 's'}"
