"""A spec document as a tree of nodes that each remember where they were written.

Composing a spec moves values between files (a base, the file that extends it, `--set`); a value
carries its line with it in its node, so no line map needs rewriting when layers are inserted,
deleted or replaced. `to_document` turns the tree back into plain data and a line map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archspec.loader import Document, Path_

LAYER_ID = "id"  # the optional field that names a layer, for overrides; never compiled


@dataclass(eq=False)
class Node:
    """One value of the document: a dict of Nodes, a list of Nodes, or a plain scalar."""

    value: Any
    line: int | None = None

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_list(self) -> bool:
        return isinstance(self.value, list)


def from_document(doc: Document, line_of: Any) -> Node:
    """The tree of `doc`; `line_of(line)` turns each of its line numbers into a node's line."""

    def build(value: Any, path: Path_) -> Node:
        line = doc.lines.get(path)
        line = None if line is None else line_of(line)
        if isinstance(value, dict):
            return Node({k: build(v, (*path, k)) for k, v in value.items()}, line)
        if isinstance(value, list):
            return Node([build(v, (*path, i)) for i, v in enumerate(value)], line)
        return Node(value, line)

    return build(doc.data, ())


def from_value(value: Any, line: int | None) -> Node:
    """A tree for a value that came from one place (a `--set` argument): every node that line."""
    if isinstance(value, dict):
        return Node({k: from_value(v, line) for k, v in value.items()}, line)
    if isinstance(value, list):
        return Node([from_value(v, line) for v in value], line)
    return Node(value, line)


def to_document(root: Node, source: str) -> Document:
    lines: dict[Path_, int] = {}

    def plain(node: Node, path: Path_) -> Any:
        if node.line is not None:
            lines[path] = node.line
        if node.is_map:
            return {k: plain(v, (*path, k)) for k, v in node.value.items()}
        if node.is_list:
            return [plain(v, (*path, i)) for i, v in enumerate(node.value)]
        return node.value

    return Document(data=plain(root, ()), source=source, lines=lines)


def walk(node: Node):
    """Every node of the tree, depth first, with the node holding it (None for the root)."""
    stack: list[tuple[Node, Node | None]] = [(node, None)]
    while stack:
        current, parent = stack.pop()
        yield current, parent
        children = current.value.values() if current.is_map else current.value
        if current.is_map or current.is_list:
            stack.extend((child, current) for child in reversed(list(children)))


def not_layer_holders(root: Node) -> set[int]:
    """The nodes whose values are never layers: the top level, `sections` (each value a group of
    layers) and `blocks` (each value a block definition)."""
    holders = {id(root)}
    if root.is_map:
        holders |= {id(root.value[k]) for k in ("sections", "blocks") if k in root.value}
    return holders


def is_kind_name(name: object) -> bool:
    """Kinds and blocks are class names (Conv2d, BasicBlock); options and fields are lowercase."""
    return isinstance(name, str) and name[:1].isupper() and name.isidentifier()


def is_class_name(name: object) -> bool:
    """A name a module prints under (`class:`): CamelCase, perhaps after an underscore, as
    torchvision's private _InvertedResidual and _DenseLayer."""
    return isinstance(name, str) and name.lstrip("_")[:1].isupper() and name.isidentifier()


def layer_kind(node: Node) -> str | None:
    """The kind of a layer written `Kind: {fields}` (perhaps beside lowercase options such as
    `repeat: 2`) or as a bare `Kind`, in a list of layers or a mapping of named layers."""
    if isinstance(node.value, str):
        return node.value if is_kind_name(node.value) else None
    if node.is_map:
        kinds = [k for k in node.value if is_kind_name(k)]
        return kinds[0] if len(kinds) == 1 else None
    return None


def layer_body(node: Node, create: bool = False) -> Node | None:
    """What is written under a layer's kind: its fields, or a list (`Sequential: [...]`). With
    `create`, a bare or empty layer gets an empty mapping of fields."""
    kind = layer_kind(node)
    if kind is None:
        return None
    if isinstance(node.value, str):
        if not create:
            return None
        node.value = {kind: Node({}, node.line)}
    body = node.value[kind]
    if body.value is None and create:
        body.value = {}
    return body if body.is_map or body.is_list else None


def layer_fields(node: Node, create: bool = False) -> Node | None:
    body = layer_body(node, create)
    return body if body is not None and body.is_map else None


def layer_id(node: Node) -> Node | None:
    """The node of the layer's `id`, if the layer has one."""
    fields = layer_fields(node)
    return fields.value.get(LAYER_ID) if fields is not None else None


def layers_with_ids(root: Node) -> list[tuple[Node, Node, Node]]:
    """(holder, layer, id node) for every layer of the document that has an id."""
    holders = not_layer_holders(root)
    found = []
    for node, parent in walk(root):
        if parent is not None and id(parent) not in holders:
            id_node = layer_id(node)
            if id_node is not None:
                found.append((parent, node, id_node))
    return found


def key_of(holder: Node, node: Node) -> object:
    """The index or key under which `holder` holds `node`."""
    items = enumerate(holder.value) if holder.is_list else holder.value.items()
    return next(key for key, child in items if child is node)
