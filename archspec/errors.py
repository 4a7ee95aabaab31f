"""Errors a user can fix. The CLI prints them without a traceback and exits with code 2."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from archspec.origin import describe_line


class UserError(Exception):
    """A mistake in what the user gave (a file, a flag, a folder): say what, where, and the fix."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec, located as precisely as we know it."""

    message: str
    hint: str = ""
    line: int | None = None  # 1-based line in the YAML file; an Origin if elsewhere
    where: str = ""  # e.g. "features[3] Conv2d.kernel_size"

    def render(self) -> str:
        place = ", ".join(p for p in (describe_line(self.line), self.where) if p)
        text = f"{place}: {self.message}" if place else self.message
        return f"{text}\n    fix: {self.hint}" if self.hint else text


class SpecError(UserError):
    """Every problem found in one spec file, reported together."""

    def __init__(self, source: str, problems: Sequence[Problem]):
        self.source = source
        self.problems = tuple(problems)
        count = len(self.problems)
        header = f"{source}: {count} problem{'s' if count != 1 else ''}"
        body = "\n".join(f"  - {p.render()}" for p in self.problems)
        super().__init__(f"{header}\n{body}")
