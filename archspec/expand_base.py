"""What every step of expanding a spec shares: where expansion is (`Scope`), the problems it
finds reported at the line where each was written, and the rule for the names a spec gives."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archspec.errors import Problem
from archspec.expand_blocks import BlockDef
from archspec.layers.reserved import LAYER, SECTION, free_name, name_clash
from archspec.loader import Document
from archspec.params import referenced_names
from archspec.tree import Node, Sequence


@dataclass
class Scope:
    """Where expansion is: the block parameters in force and how we got here."""

    params: dict[str, Any] = field(default_factory=dict)
    param_src: dict[str, tuple] = field(default_factory=dict)  # where each value was written
    via: str = ""
    stack: tuple[str, ...] = ()
    use: tuple[str, int] | None = None  # the innermost block use: (name, index among its uses)


class ExpandBase:
    """The state of one expansion and its reporting. The items (expand_items.py) and the
    structures (expand_structures.py) each use the other's entry point through `self`."""

    def __init__(self, doc: Document, problems: list[Problem]):
        self.doc, self.problems = doc, problems
        self.blocks: dict[str, BlockDef] = {}
        self.count = 0
        self.too_large = False
        self.moved: dict[tuple, tuple] = {}  # (item, Kind, field) -> (item, "first", field)
        self.uses: dict[str, int] = {}  # block name -> how many times it is used, in order

    def problem(self, message: str, src: tuple, scope: Scope, hint: str = "", where: str = ""):
        via = f" (in {scope.via})" if scope.via else ""
        self.problems.append(Problem(message + via, hint=hint, line=self.line_of(src), where=where))

    def line_of_field(self, path: tuple, fields: Mapping, scope: Scope) -> int | None:
        """A bad value that came from a block parameter is reported where the value was given."""
        key = path[-1] if path else None
        names = referenced_names(fields.get(key)) if key in fields else []
        for param in names:
            if param in scope.param_src:
                return self.line_of(scope.param_src[param])
        return self.line_of(path)

    def line_of(self, path: tuple) -> int | None:
        """A field given in `first:` is reported on that line, not on the item's."""
        return self.doc.line_of(self.moved.get(tuple(path), path))

    # -- provided by the parts: ItemExpander.group and StructureExpander.structure ----------

    def group(
        self,
        raw: Any,
        src: tuple,
        scope: Scope,
        name: str,
        label: str,
        class_name: str | None = None,
        role: str = LAYER,
    ) -> Sequence | None:
        raise NotImplementedError

    def structure(
        self,
        kind: str,
        fields: Any,
        src: tuple,
        scope: Scope,
        name: str,
        label: str,
        class_name: str | None = None,
    ) -> Node | None:
        raise NotImplementedError

    def own_names_unique(self, node: Node, src: tuple, scope: Scope) -> bool:
        raise NotImplementedError


def closest(name: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(name, known, n=1)
    return close[0] if close else None


def name_refusal(name: str, role: str, what: str) -> tuple[str, str] | None:
    """(message, fix) when `name` cannot name `what` (a section, a layer, a branch), else None:
    it must be an identifier, and must not clash with an attribute of the module it joins."""
    # A child may hold a hyphen, as RegNet's `block1-0` (what `names: block1-{i}` makes); a
    # section is the model's attribute, so it stays an identifier.
    hyphenated = role != SECTION and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name)
    if not (name.isidentifier() or hyphenated):
        return (
            f"'{name}' cannot name {what}: a name is an identifier (letters, digits and "
            "underscores, not starting with a digit)",
            "e.g. features, conv1, bn1, relu" if role == SECTION else "e.g. conv1, bn1, relu",
        )
    reason = name_clash(name, role)
    if reason is None:
        return None
    return f"'{name}' cannot name {what}: {reason}", f"rename it, e.g. {free_name(name, role)}"
