"""The `blocks:` section of a spec read and checked: each definition's name, parameters and
body, kept as a `BlockDef` for the uses to expand (expand_items.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archspec.document_tree import is_class_name
from archspec.errors import Problem
from archspec.layers import LAYER_KINDS
from archspec.loader import Document
from archspec.params import mentioned_names

STRUCTURES = ("Residual", "Parallel", "Sequential")  # kinds written in a spec; no block's name
REQUIRED = "required"
BODIES = ("layers", "Residual", "Parallel")  # what a block's body may be
BLOCK_KEYS = ("params", "class", "counter", "holds")  # a block's keys besides its body


@dataclass(frozen=True)
class BlockDef:
    name: str
    params: dict[str, Any]  # name -> default, or REQUIRED
    kind: str  # "layers", "Residual" or "Parallel"
    body: Any
    src: tuple
    # `class:` the name it prints under, when two blocks are one torchvision class (ShuffleNet's
    # InvertedResidual with and without its downsampling branch); else its own name.
    class_name: str = ""
    # `counter:` the count its `block_index` and `block_count` are taken in, when blocks of
    # several classes are numbered together (EfficientNetV2's FusedMBConv and MBConv); else
    # its class's own count.
    counter: str = ""
    # `holds:` its own children in the order the module holds them (tree.HELD), or None.
    holds: Any = None

    @property
    def printed(self) -> str:
        return self.class_name or self.name

    @property
    def counted(self) -> str:
        return self.counter or self.printed


class _Reader:
    """Reads the definitions one by one, appending what is wrong to `problems`."""

    def __init__(self, doc: Document, problems: list[Problem]):
        self.doc, self.problems = doc, problems
        self.blocks: dict[str, BlockDef] = {}

    def problem(self, message: str, src: tuple, hint: str) -> None:
        self.problems.append(Problem(message, hint=hint, line=self.doc.line_of(src)))

    def read_blocks(self, raw: Any) -> None:
        if raw is None:
            return
        src = ("blocks",)
        if not isinstance(raw, Mapping):
            self.problem(
                "blocks must be a mapping of block names to definitions",
                src,
                hint="e.g. blocks: {BasicBlock: {params: {planes: required}, layers: [...]}}",
            )
            return
        for name, definition in raw.items():
            self.read_block(str(name), definition, (*src, name))

    def read_block(self, name: str, definition: Any, src: tuple) -> None:
        if not name.isidentifier() or name in LAYER_KINDS or name in STRUCTURES:
            taken = name in LAYER_KINDS or name in STRUCTURES
            self.problem(
                f"'{name}' cannot name a block: "
                + ("it is already a layer kind" if taken else "it must be a class-style name"),
                src,
                hint="use a new CamelCase name such as BasicBlock or Fire",
            )
            return
        if not isinstance(definition, Mapping):
            self.problem(
                f"block {name} must be a mapping with params and layers (or Residual/Parallel)",
                src,
                hint="e.g. {params: {planes: required}, layers: [...]}",
            )
            return
        body = self.body_key(name, definition, src)
        if body is None:
            return
        params = definition.get("params") or {}
        if not isinstance(params, Mapping) or not all(
            isinstance(k, str) and k.isidentifier() for k in params
        ):
            self.problem(
                f"the params of block {name} must map parameter names to defaults",
                (*src, "params"),
                hint="e.g. params: {planes: required, stride: 1}",
            )
            return
        used = set(mentioned_names(definition[body])) | set(in_name_templates(definition[body]))
        for key in params:
            if key not in used:
                # a value given for it at a use would be silently ignored
                self.problem(
                    f"block {name} declares the parameter '{key}' and never uses it",
                    (*src, "params", key),
                    hint=f"use it in a field as ${key}, or remove it from params",
                )
        printed = definition.get("class", "")
        if printed and not is_class_name(printed):
            self.problem(
                f"the class of block {name} must be a CamelCase name, got {printed!r}",
                (*src, "class"),
                hint="e.g. class: InvertedResidual (the name the module prints under)",
            )
            printed = ""  # told once: its uses still expand, under its own name
        counter = definition.get("counter", "")
        if counter and not (isinstance(counter, str) and counter.isidentifier()):
            self.problem(
                f"the counter of block {name} must be a name, got {counter!r}",
                (*src, "counter"),
                hint="e.g. counter: stage_blocks (blocks with one counter share block_index)",
            )
            counter = ""
        self.blocks[name] = BlockDef(
            name,
            dict(params),
            body,
            definition[body],
            (*src, body),
            printed,
            counter,
            definition.get("holds"),
        )

    def body_key(self, name: str, definition: Mapping, src: tuple) -> str | None:
        """Which of layers, Residual, Parallel the block is written as; None (told) when it
        has none or several. Keys that are none of these nor params are told too."""
        bodies = [k for k in definition if k in BODIES]
        for key in definition:
            if key not in BLOCK_KEYS and key not in BODIES:
                self.problem(
                    f"unknown key '{key}' in block {name}",
                    (*src, key),
                    hint="a block has params, class, counter, holds, and one of layers, "
                    "Residual, Parallel",
                )
        if len(bodies) != 1:
            self.problem(
                f"block {name} must have exactly one of layers, Residual, Parallel "
                f"(has {', '.join(bodies) or 'none'})",
                src,
                hint="e.g. layers: [...] for a plain block",
            )
            return None
        return bodies[0]


def read_blocks(raw: Any, doc: Document, problems: list[Problem]) -> dict[str, BlockDef]:
    """The well-formed definitions of `raw` (the `blocks:` section) by name; what is wrong
    with the others is appended to `problems`."""
    reader = _Reader(doc, problems)
    reader.read_blocks(raw)
    return reader.blocks


def in_name_templates(value: Any) -> list[str]:
    """The parameters that `names:` templates write in (`block{stage}-{i}`: stage)."""
    if isinstance(value, list):
        return [name for v in value for name in in_name_templates(v)]
    if not isinstance(value, Mapping):
        return []
    found = [name for v in value.values() for name in in_name_templates(v)]
    template = value.get("names")
    if isinstance(template, str):
        found += re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", template)
    return found
