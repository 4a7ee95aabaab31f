"""Paths into a spec document, as overrides and `--set` write them: `features.0.kernel_size`.

A path is dot-separated. Its first part is a top-level key (`name`, `input_shape`, `blocks`...),
a section (`features`) or a layer's id (`conv1`); then come list indices (from 0; negative counts
from the end), ids, and mapping keys. A layer is stepped through to its fields, so
`features.0.kernel_size` is the kernel size of the first layer, whatever its kind.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from archspec.document_tree import (
    LAYER_ID,
    Node,
    key_of,
    layer_body,
    layer_fields,
    layer_kind,
    layers_with_ids,
    not_layer_holders,
)
from archspec.text import plural

INDEX = re.compile(r"^-?[0-9]+$")
PATH_EXAMPLE = "features.0.kernel_size (section.index.field) or conv1.kernel_size (id.field)"


class TargetError(ValueError):
    """A path that is malformed or points at nothing; `hint` says what would."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class Target:
    """Where a path points: the slot `key` of `container`, holding `node` (None if not yet)."""

    text: str
    container: Node
    key: Any
    node: Node | None
    ancestors: tuple[Node, ...]  # every node above the slot, from the root to the container
    is_layer: bool  # the slot holds a layer, in a list of layers or a mapping of named ones

    @property
    def in_list(self) -> bool:
        return self.container.is_list


def parse_path(text: str) -> list[str | int]:
    if not isinstance(text, str) or not text.strip():
        raise TargetError(f"a target is a path such as {PATH_EXAMPLE}, got {text!r}")
    parts = text.strip().split(".")
    if any(not part.strip() for part in parts):
        raise TargetError(
            f"the path '{text}' has an empty part (two dots, or a dot at an end)",
            hint=f"write it as {PATH_EXAMPLE}",
        )
    return [int(p) if INDEX.match(p.strip()) else p.strip() for p in parts]


def find_target(root: Node, text: str, *, may_create: bool, base: str) -> Target:
    """The slot `text` names in the tree `root` (the document as `base` has it).

    With `may_create`, the last part may name a mapping key that is not written yet (a field
    left at its default): `set` writes it there.
    """
    parts = parse_path(text)
    if not root.is_map:
        raise TargetError(f"{base} is not a mapping of name, sections...: nothing to change")
    holders = not_layer_holders(root)
    container, key = _first(root, parts[0], base)
    ancestors: list[Node] = [root]
    last = len(parts) - 1
    for depth, part in enumerate(parts[1:], start=1):
        node = container.value[key]
        ancestors.append(container)
        kind = layer_kind(node) if _holds_layer(root, container, node, holders) else None
        # A layer is stepped through to what is written under its kind, unless the part names
        # an option beside the kind (`layer2.0.repeat`).
        if kind is not None and not (node.is_map and part in node.value and part != kind):
            body = layer_body(node, create=True)
            if body is None:
                raise TargetError(f"{_show(parts[:depth])} ({kind}) has nothing inside to change")
            ancestors.append(node)
            if part == kind:  # `features.0.Conv2d.kernel_size` reads well too
                if depth == last:
                    container, key = node, kind
                continue
            node = body
        container, key = _step(node, part, parts[:depth], depth == last and may_create, base)
    node = _slot(container, key)
    is_layer = (
        node is not None
        and _holds_layer(root, container, node, holders)
        and layer_kind(node) is not None
    )
    return Target(text, container, key, node, (*ancestors, container), is_layer)


def _holds_layer(root: Node, container: Node, node: Node, holders: set[int]) -> bool:
    """Whether `node`, in `container`, is written as a layer: anywhere but the top level,
    `sections` and `blocks`, and also a section written as one layer (`fc: {Linear: ...}`)."""
    if id(container) not in holders:
        return True
    sections = root.value.get("sections")
    one_layer = isinstance(node.value, str) or (node.is_map and len(node.value) == 1)
    return container is sections and one_layer


def _slot(container: Node, key: Any) -> Node | None:
    if container.is_list:
        return container.value[key]
    return container.value.get(key)


def _first(root: Node, part: str | int, base: str) -> tuple[Node, Any]:
    """A top-level key, else a section, else a layer id."""
    if part in root.value:
        return root, part
    sections = root.value.get("sections")
    if sections is not None and sections.is_map and part in sections.value:
        return sections, part
    owners = [
        (lst, layer) for lst, layer, id_node in layers_with_ids(root) if id_node.value == part
    ]
    if len(owners) > 1:
        raise TargetError(
            f"the id '{part}' names {plural(len(owners), 'layer')} in {base}",
            hint="give each layer its own id",
        )
    if owners:
        holder, layer = owners[0]
        return holder, key_of(holder, layer)
    section_names = list(sections.value) if sections is not None and sections.is_map else []
    ids = [id_node.value for _, _, id_node in layers_with_ids(root)]
    known = [str(k) for k in (*root.value, *section_names, *ids)]
    close = difflib.get_close_matches(str(part), known, n=1)
    listing = f"sections: {', '.join(map(str, section_names)) or 'none'}"
    listing += f"; ids: {', '.join(map(str, ids))}" if ids else "; no layer has an id"
    raise TargetError(
        f"'{part}' is not a section, a layer id or a top-level key of {base}",
        hint=f"did you mean {close[0]}?" if close else listing,
    )


def _step(node: Node, part: str | int, done: list, may_create: bool, base: str) -> tuple[Node, Any]:
    where = _show(done)
    if node.is_list:
        count = len(node.value)
        if isinstance(part, int):
            if -count <= part < count:
                return node, part % count
            what = "layer" if any(layer_kind(n) for n in node.value) else "item"
            span = f"0 to {count - 1}" if count else "it is empty"
            raise TargetError(
                f"{where} has {plural(count, what)} ({span}) in {base}: there is no {part}",
                hint="count from 0 (negative from the end), or name the layer by its id",
            )
        for index, item in enumerate(node.value):
            fields = layer_fields(item)
            id_node = fields.value.get(LAYER_ID) if fields is not None else None
            if id_node is not None and id_node.value == part:
                return node, index
        raise TargetError(
            f"{where} is a list: '{part}' is neither an index nor the id of one of its layers",
            hint=f"e.g. {where}.0",
        )
    if node.is_map:
        for key in (part, str(part)):
            if key in node.value:
                return node, key
        if may_create and isinstance(part, str):
            return node, part
        known = [str(k) for k in node.value]
        close = difflib.get_close_matches(str(part), known, n=1)
        raise TargetError(
            f"{where} has no '{part}' in {base}",
            hint=f"did you mean {close[0]}?"
            if close
            else f"it has {', '.join(known) or 'nothing'}",
        )
    raise TargetError(
        f"{where} is the value {node.value!r} in {base}: it has no '{part}' inside",
        hint=f"set {where} itself",
    )


def _show(parts: list) -> str:
    return ".".join(str(p) for p in parts)
