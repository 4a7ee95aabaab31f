"""Expand a spec document into a tree of layers: blocks, repeats and parameters resolved.

What a spec may write wherever a layer goes (in a section, a block, a body or a branch):

    - Conv2d: {out_channels: 64, kernel_size: 3}      # a layer kind (`archspec layers`)
    - BasicBlock: {planes: 128, stride: 2}           # a block defined under `blocks:`
    - BasicBlock: {planes: 128}                      # repeated: 2 copies, the first with
      repeat: 2                                      #   stride 2 (as a ResNet stage starts)
      first: {stride: 2}
    - Residual: {body: [...], shortcut: auto, after: [...]}
    - Parallel: {branches: {a: [...], b: [...]}, merge: concat}   # or merge: sum
    - Sequential: [...]

A list of layers gives children numbered 0, 1, 2 (nn.Sequential); a mapping `{conv1: ..., bn1:
...}` gives them the names written. A block is defined once:

    blocks:
      BasicBlock:
        params: {planes: required, stride: 1}
        Residual: {body: {conv1: ..., bn1: ...}, shortcut: auto, after: {relu: ...}}

and prints as `BasicBlock(...)`. Its fields use `$planes` or `${planes * 4}` (see params.py).
Every problem is collected with the line where it was written and the block uses leading to it.

This module expands the sections; its parts, top to bottom: expand_blocks.py (the `blocks:`
definitions read), expand_base.py (the shared scope and reporting), expand_structures.py
(Residual, Parallel, Sequential) and expand_items.py (layers, repeats and block uses).
"""

from __future__ import annotations

from collections.abc import Mapping

from archspec.errors import Problem
from archspec.expand_base import ExpandBase, Scope, name_refusal
from archspec.expand_blocks import REQUIRED, STRUCTURES, BlockDef, read_blocks
from archspec.expand_items import ITEM_OPTIONS, MAX_DEPTH, MAX_LAYERS, ItemExpander
from archspec.expand_structures import CLASS, STRUCTURE_FIELDS, StructureExpander
from archspec.layers import LAYER_KINDS
from archspec.layers.reserved import SECTION
from archspec.loader import Document
from archspec.tree import Sequence

__all__ = [
    "CLASS",
    "ITEM_OPTIONS",
    "MAX_DEPTH",
    "MAX_LAYERS",
    "REQUIRED",
    "STRUCTURES",
    "STRUCTURE_FIELDS",
    "BlockDef",
    "ExpandBase",
    "Expander",
    "Scope",
    "expand",
    "name_refusal",
]


class Expander(ItemExpander, StructureExpander):
    """One expansion of a document: the items and the structures, each calling the other."""

    def read_blocks(self, raw: object) -> None:
        self.blocks = read_blocks(raw, self.doc, self.problems)


def expand(
    doc: Document, problems: list[Problem], uses: dict[str, int] | None = None
) -> dict[str, Sequence]:
    """The sections of `doc` as trees; problems are appended to `problems`, and `uses` gets
    how many times each block is used (for `block_count`)."""
    expander = Expander(doc, problems)
    expander.read_blocks(doc.data.get("blocks"))
    sections: dict[str, Sequence] = {}
    raw = doc.data.get("sections")
    if not isinstance(raw, Mapping):
        return sections
    for name, items in raw.items():
        name = str(name)
        src = ("sections", name)
        refusal = name_refusal(name, SECTION, "a section")
        if refusal is not None:
            message, hint = refusal
            problems.append(
                Problem(message, hint=hint, line=doc.line_of(src), where=f"section {name}")
            )
            continue
        if isinstance(items, list | Mapping) and not items:
            problems.append(
                Problem(
                    f"section {name} is empty",
                    hint="add layers to it or remove the section",
                    line=doc.line_of(src),
                    where=f"section {name}",
                )
            )
            continue
        if _is_one_item(items, expander):
            # `fc: {Linear: ...}`: the section is that layer itself (the model's `fc`)
            node = expander.item(items, src, Scope(), name, name)
            if node is not None:
                sections[name] = Sequence(name, (node,), None, True, src, label=name, bare=True)
            continue
        if not isinstance(items, list | Mapping):
            problems.append(
                Problem(
                    f"section {name} must be a list of layers, a mapping of named layers, or "
                    "one layer",
                    hint="write each layer on its own line starting with '- '",
                    line=doc.line_of(src),
                )
            )
            continue
        group = expander.group(items, src, Scope(), name, name)
        if group is not None:
            sections[name] = group
    if uses is not None:
        uses.update(expander.uses)
    return sections


def _is_one_item(items: object, expander: Expander) -> bool:
    """A section written as one layer, block or structure (`Kind` or `Kind: {...}`), not as a
    list or a mapping of named layers."""
    if isinstance(items, str):
        return True
    if not (isinstance(items, Mapping) and len(items) == 1):
        return False
    key = str(next(iter(items)))
    return key in LAYER_KINDS or key in STRUCTURES or key in expander.blocks
