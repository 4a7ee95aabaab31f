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
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from archspec.errors import Problem
from archspec.layers import LAYER_KINDS, suggest_kind
from archspec.layers.reserved import (
    BRANCH,
    LAYER,
    RESIDUAL,
    SECTION,
    SHORTCUT,
    free_name,
    name_clash,
)
from archspec.loader import Document
from archspec.params import ParamError, mentioned_names, referenced_names, substitute
from archspec.tree import Layer, Node, Parallel, Residual, Sequence
from archspec.validate import as_yaml, validate_fields

STRUCTURES = ("Residual", "Parallel", "Sequential")
STRUCTURE_FIELDS = {  # what `archspec layers` says of them
    "Residual": "out = after(body(x) + shortcut(x))\n    body: required, layers\n"
    "    shortcut: default auto (identity, or a 1x1 conv when the shape changes), identity, "
    "or layers\n    after: optional, layers applied to the sum",
    "Parallel": "branches on the same input, merged\n    branches: required, two or more "
    "lists of layers (or a mapping of named ones)\n    merge: default concat (channels), or sum",
    "Sequential": "layers grouped into one submodule: a list, or a mapping of named layers\n"
    "    or {class: Name, layers: ...} to print it under a class name",
}
for _kind in ("Residual", "Parallel"):
    STRUCTURE_FIELDS[_kind] += "\n    class: optional, the class name it prints under"
ITEM_OPTIONS = ("repeat", "first")
CLASS = "class"  # the optional name a Residual, Parallel or Sequential prints under
MAX_LAYERS = 100_000  # an expanded network never has this many layers; a typo in repeat might
MAX_DEPTH = 50  # blocks within blocks; deeper is a mistake (or a cycle we did not see)
REQUIRED = "required"


@dataclass(frozen=True)
class BlockDef:
    name: str
    params: dict[str, Any]  # name -> default, or REQUIRED
    kind: str  # "layers", "Residual" or "Parallel"
    body: Any
    src: tuple


@dataclass
class Scope:
    """Where expansion is: the block parameters in force and how we got here."""

    params: dict[str, Any] = field(default_factory=dict)
    param_src: dict[str, tuple] = field(default_factory=dict)  # where each value was written
    via: str = ""
    stack: tuple[str, ...] = ()


class Expander:
    def __init__(self, doc: Document, problems: list[Problem]):
        self.doc, self.problems = doc, problems
        self.blocks: dict[str, BlockDef] = {}
        self.count = 0
        self.too_large = False
        self.moved: dict[tuple, tuple] = {}  # (item, Kind, field) -> (item, "first", field)

    # -- reporting -------------------------------------------------------------------------

    def problem(self, message: str, src: tuple, scope: Scope, hint: str = "", where: str = ""):
        via = f" (in {scope.via})" if scope.via else ""
        self.problems.append(Problem(message + via, hint=hint, line=self.line_of(src), where=where))

    # -- blocks ----------------------------------------------------------------------------

    def read_blocks(self, raw: Any) -> None:
        if raw is None:
            return
        src = ("blocks",)
        if not isinstance(raw, Mapping):
            self.problem(
                "blocks must be a mapping of block names to definitions",
                src,
                Scope(),
                hint="e.g. blocks: {BasicBlock: {params: {planes: required}, layers: [...]}}",
            )
            return
        for name, definition in raw.items():
            self.read_block(str(name), definition, (*src, name))

    def read_block(self, name: str, definition: Any, src: tuple) -> None:
        scope = Scope()
        if not name.isidentifier() or name in LAYER_KINDS or name in STRUCTURES:
            taken = name in LAYER_KINDS or name in STRUCTURES
            self.problem(
                f"'{name}' cannot name a block: "
                + ("it is already a layer kind" if taken else "it must be a class-style name"),
                src,
                scope,
                hint="use a new CamelCase name such as BasicBlock or Fire",
            )
            return
        if not isinstance(definition, Mapping):
            self.problem(
                f"block {name} must be a mapping with params and layers (or Residual/Parallel)",
                src,
                scope,
                hint="e.g. {params: {planes: required}, layers: [...]}",
            )
            return
        bodies = [k for k in definition if k in ("layers", "Residual", "Parallel")]
        unknown = [k for k in definition if k not in ("params", "layers", "Residual", "Parallel")]
        for key in unknown:
            self.problem(
                f"unknown key '{key}' in block {name}",
                (*src, key),
                scope,
                hint="a block has params and one of layers, Residual, Parallel",
            )
        if len(bodies) != 1:
            self.problem(
                f"block {name} must have exactly one of layers, Residual, Parallel "
                f"(has {', '.join(bodies) or 'none'})",
                src,
                scope,
                hint="e.g. layers: [...] for a plain block",
            )
            return
        params = definition.get("params") or {}
        if not isinstance(params, Mapping) or not all(
            isinstance(k, str) and k.isidentifier() for k in params
        ):
            self.problem(
                f"the params of block {name} must map parameter names to defaults",
                (*src, "params"),
                scope,
                hint="e.g. params: {planes: required, stride: 1}",
            )
            return
        used = set(mentioned_names(definition[bodies[0]]))
        for key in params:
            if key not in used:
                # a value given for it at a use would be silently ignored
                self.problem(
                    f"block {name} declares the parameter '{key}' and never uses it",
                    (*src, "params", key),
                    scope,
                    hint=f"use it in a field as ${key}, or remove it from params",
                )
        self.blocks[name] = BlockDef(
            name, dict(params), bodies[0], definition[bodies[0]], (*src, bodies[0])
        )

    # -- items -----------------------------------------------------------------------------

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
        """A list (numbered children) or a mapping (named children) of layers; `role` says
        what the named children become (a Sequential's, or a Residual's own, attributes)."""
        if isinstance(raw, list):
            if not raw:
                self.problem(
                    "an empty list of layers",
                    src,
                    scope,
                    hint="add layers or remove it",
                    where=label,
                )
                return None
            children: list[Node] = []
            ok, position = True, 0
            for i, item in enumerate(raw):
                expanded = self.list_item(item, (*src, i), scope, position, label)
                if expanded is None:
                    ok, position = False, position + 1
                else:
                    children.extend(expanded)
                    position += len(expanded)
            if not ok:
                return None
            return Sequence(name, tuple(children), class_name, True, src, scope.via)
        if isinstance(raw, Mapping) and raw:
            children = []
            ok = True
            for key, item in raw.items():
                key = str(key)
                refusal = name_refusal(key, role, "a layer")
                if refusal is not None:
                    message, hint = refusal
                    self.problem(message, (*src, key), scope, hint=hint, where=f"{label}.{key}")
                    ok = False
                    continue
                node = self.item(
                    item, (*src, key), scope, key, f"{label}.{key}", allow_repeat=False
                )
                ok = ok and node is not None
                if node is not None:
                    children.append(node)
            if not ok:
                return None
            return Sequence(name, tuple(children), class_name, False, src, scope.via)
        self.problem(
            f"expected a list of layers or a mapping of named layers, got {as_yaml(raw)}",
            src,
            scope,
            hint="write each layer on its own line starting with '- ', or `name: Kind`",
            where=label,
        )
        return None

    def list_item(
        self, item: Any, src: tuple, scope: Scope, start: int, label: str
    ) -> list[Node] | None:
        count, first = 1, None
        if isinstance(item, Mapping) and any(k in ITEM_OPTIONS for k in item):
            count = self.repeat_count(item.get("repeat", 1), (*src, "repeat"), scope)
            first = item.get("first")
            if "first" in item and not self.first_applies(item, src, scope):
                return None
            item = {k: v for k, v in item.items() if k not in ITEM_OPTIONS}
            if count is None:
                return None
        nodes = []
        for copy in range(count):
            node = self.item(
                item,
                src,
                scope,
                str(start + copy),
                f"{label}[{start + copy}]",
                overrides=first if copy == 0 else None,
            )
            if node is None:
                return None
            nodes.append(node)
        return nodes

    def first_applies(self, item: Mapping, src: tuple, scope: Scope) -> bool:
        """`first:` changes the first of the copies `repeat` makes; refuse one that would
        change nothing (no repeat, no fields, nothing with fields to change)."""
        first, at = item["first"], (*src, "first")
        if not isinstance(first, Mapping):
            self.problem(
                f"first must be a mapping of fields for the first copy, got {as_yaml(first)}",
                at,
                scope,
                hint="e.g. first: {stride: 2}",
            )
            return False
        if "repeat" not in item:
            self.problem(
                "first changes the first of the copies that repeat makes, and this item has "
                "no repeat",
                at,
                scope,
                hint="add repeat: N beside it, or write these fields into the layer itself",
            )
            return False
        if not first:
            self.problem(
                "first is empty: it changes nothing",
                at,
                scope,
                hint="remove it, or give the fields of the first copy (e.g. first: {stride: 2})",
            )
            return False
        kinds = [k for k in item if k not in ITEM_OPTIONS]
        if kinds == ["Sequential"]:
            self.problem(
                "first changes fields or block parameters, and a Sequential has neither",
                at,
                scope,
                hint="define the group as a block with params, and set them in first",
            )
            return False
        return True

    def repeat_count(self, value: Any, src: tuple, scope: Scope) -> int | None:
        try:
            value = substitute(value, scope.params)
        except ParamError as e:
            self.problem(f"repeat: {e}", src, scope, hint=e.hint)
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.problem(
                f"repeat must be a positive integer, got {as_yaml(value)}",
                src,
                scope,
                hint="e.g. repeat: 2 (remove the item instead of repeating it 0 times)",
            )
            return None
        if value > MAX_LAYERS:
            self.problem(f"repeat {value:,} is beyond {MAX_LAYERS:,} layers", src, scope)
            return None
        return value

    def item(
        self,
        item: Any,
        src: tuple,
        scope: Scope,
        name: str,
        label: str,
        overrides: Mapping | None = None,
        allow_repeat: bool = True,
    ) -> Node | None:
        if isinstance(item, str):
            kind, fields = item, {}
        elif isinstance(item, Mapping) and len(item) == 1:
            kind, fields = next(iter(item.items()))
            fields = {} if fields is None else fields
        else:
            extra = ""
            if isinstance(item, Mapping) and not allow_repeat and "repeat" in item:
                extra = "; repeat makes numbered copies, so use it in a list, not a mapping"
            self.problem(
                f"a layer is written as `Kind: {{field: value}}` or as a bare `Kind`, got "
                f"{as_yaml(item)}{extra}",
                src,
                scope,
                hint="e.g. - Conv2d: {out_channels: 64, kernel_size: 3}",
                where=label,
            )
            return None
        kind = str(kind)
        src = (*src, kind)
        if overrides and isinstance(fields, Mapping):
            fields = {**fields, **overrides}
            for key in overrides:
                self.moved[(*src, key)] = (*src[:-1], "first", key)
        self.count += 1
        if self.count > MAX_LAYERS:
            if not self.too_large:
                self.too_large = True
                self.problem(
                    f"the network expands to more than {MAX_LAYERS:,} layers",
                    src,
                    scope,
                    hint="check the repeat counts",
                )
            return None
        if kind in STRUCTURES:
            return self.structure(kind, fields, src, scope, name, label)
        if kind in self.blocks:
            return self.block_use(self.blocks[kind], fields, src, scope, name, label)
        return self.layer(kind, fields, src, scope, name, label)

    def layer(
        self, kind: str, fields: Any, src: tuple, scope: Scope, name: str, label: str
    ) -> Node | None:
        schema = LAYER_KINDS.get(kind)
        if schema is None:
            guess = suggest_kind(kind) or _closest(kind, [*self.blocks, *STRUCTURES])
            hint = f"did you mean {guess}?" if guess else "run `archspec layers` to list them"
            if not guess and self.blocks:
                hint += f"; the blocks defined are {', '.join(self.blocks)}"
            self.problem(f"unknown layer kind '{kind}'", src, scope, hint=hint, where=label)
            return None
        if not isinstance(fields, Mapping):
            self.problem(
                f"the fields of {kind} must be a mapping, got {as_yaml(fields)}",
                src,
                scope,
                hint=f"e.g. - {kind}: {as_yaml(schema.example)}",
                where=f"{label} {kind}",
            )
            return None
        values = {}
        for key, value in fields.items():
            try:
                values[key] = substitute(value, scope.params)
            except ParamError as e:
                self.problem(
                    f"{key}: {e}", (*src, key), scope, hint=e.hint, where=f"{label} {kind}.{key}"
                )
                return None
        result = validate_fields(
            schema,
            values,
            lambda path: self.line_of_field(path, fields, scope),
            src,
            f"{label} {kind}",
        )
        if isinstance(result, list):
            via = f" (in {scope.via})" if scope.via else ""
            self.problems.extend(replace(p, message=p.message + via) for p in result)
            return None
        return Layer(name, result, src, scope.via, label)

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

    def block_use(
        self, block: BlockDef, fields: Any, src: tuple, scope: Scope, name: str, label: str
    ) -> Node | None:
        if block.name in scope.stack:
            cycle = " -> ".join([*scope.stack[scope.stack.index(block.name) :], block.name])
            self.problem(
                f"block {block.name} uses itself ({cycle}); a network cannot contain itself",
                src,
                scope,
                hint="remove the use, or use another block here",
            )
            return None
        if len(scope.stack) >= MAX_DEPTH:
            self.problem(f"blocks nested more than {MAX_DEPTH} deep", src, scope)
            return None
        if not isinstance(fields, Mapping):
            self.problem(
                f"the parameters of block {block.name} must be a mapping, got {as_yaml(fields)}",
                src,
                scope,
                hint=f"e.g. {block.name}: {{{', '.join(f'{p}: ...' for p in block.params)}}}",
            )
            return None
        params: dict[str, Any] = {}
        param_src: dict[str, tuple] = {}
        ok = True
        for key, value in fields.items():
            if key not in block.params:
                close = _closest(str(key), list(block.params))
                known = ", ".join(block.params) or "none"
                self.problem(
                    f"block {block.name} has no parameter '{key}'",
                    (*src, key),
                    scope,
                    hint=f"did you mean {close}?" if close else f"its parameters are: {known}",
                )
                ok = False
                continue
            try:
                params[key] = substitute(value, scope.params)
            except ParamError as e:
                self.problem(f"{key}: {e}", (*src, key), scope, hint=e.hint)
                ok = False
                continue
            outer = referenced_names(value)
            param_src[key] = scope.param_src.get(outer[0], (*src, key)) if outer else (*src, key)
        for key, default in block.params.items():
            if key in params or key in fields:  # given, its problem (if any) already told
                continue
            if default == REQUIRED:
                self.problem(
                    f"block {block.name} needs parameter '{key}'",
                    src,
                    scope,
                    hint=f"add it: {block.name}: {{{key}: ...}}",
                )
                ok = False
            else:
                params[key] = default
                param_src[key] = (*block.src[:-1], "params", key)
        if not ok:
            return None
        line = self.doc.line_of(src)
        here = f"{label} {block.name}" + (f" used on line {line}" if line else "")
        inner = Scope(
            params,
            param_src,
            f"{scope.via} > {here}" if scope.via else here,
            (*scope.stack, block.name),
        )
        if block.kind == "layers":
            return self.group(block.body, block.src, inner, name, label, class_name=block.name)
        return self.structure(block.kind, block.body, block.src, inner, name, label, block.name)

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
        if kind == "Sequential" and isinstance(fields, Mapping) and CLASS in fields:
            # {class: Fire, layers: ...}: a group printed under a class name, as a block is
            extra = [k for k in fields if k not in (CLASS, "layers")]
            if extra or "layers" not in fields:
                self.problem(
                    "a Sequential with a class takes exactly class and layers"
                    + (f", not {', '.join(map(str, extra))}" if extra else ""),
                    src,
                    scope,
                    hint="e.g. Sequential: {class: Fire, layers: {squeeze: ..., expand: ...}}",
                )
                return None
            class_name = class_name or self.class_of(fields, src, scope)
            if class_name is None:
                return None
            return self.group(fields["layers"], (*src, "layers"), scope, name, label, class_name)
        if kind == "Sequential":
            return self.group(fields, src, scope, name, label, class_name)
        allowed = {
            "Residual": ("body", "shortcut", "after", CLASS),
            "Parallel": ("branches", "merge", CLASS),
        }[kind]
        if not isinstance(fields, Mapping):
            self.problem(
                f"{kind} must be a mapping of {', '.join(allowed)}", src, scope, hint=_EXAMPLE[kind]
            )
            return None
        bad = [k for k in fields if k not in allowed]
        for key in bad:
            close = _closest(str(key), list(allowed))
            self.problem(
                f"unknown field '{key}' of {kind}",
                (*src, key),
                scope,
                hint=f"did you mean {close}?" if close else f"{kind} takes {', '.join(allowed)}",
            )
        if bad:
            return None
        if CLASS in fields and class_name is not None:
            self.problem(
                f"block {class_name} prints under its own name, so this class: would be ignored",
                (*src, CLASS),
                scope,
                hint=f"remove class: here, or name the block {as_yaml(fields[CLASS])}",
            )
            return None
        if CLASS in fields:
            class_name = self.class_of(fields, src, scope)
            if class_name is None:
                return None
        if kind == "Residual":
            return self.residual(fields, src, scope, name, label, class_name)
        return self.parallel(fields, src, scope, name, label, class_name)

    def class_of(self, fields: Mapping, src: tuple, scope: Scope) -> str | None:
        """The `class:` a structure prints under (a block's name, kept by `archspec expand`)."""
        value = fields[CLASS]
        if (
            isinstance(value, str)
            and value.isidentifier()
            and value[:1].isupper()
            and value not in LAYER_KINDS
        ):
            return value
        self.problem(
            f"class must be a CamelCase name that is not a layer kind, got {as_yaml(value)}",
            (*src, CLASS),
            scope,
            hint="e.g. class: BasicBlock (the name the module prints under)",
        )
        return None

    def residual(
        self,
        fields: Mapping,
        src: tuple,
        scope: Scope,
        name: str,
        label: str,
        class_name: str | None,
    ) -> Node | None:
        if "body" not in fields:
            self.problem("Residual needs a body", src, scope, hint=_EXAMPLE["Residual"])
            return None
        body = self.group(fields["body"], (*src, "body"), scope, "body", label, role=RESIDUAL)
        shortcut: Any = fields.get("shortcut", "auto")
        try:
            shortcut = substitute(shortcut, scope.params) if isinstance(shortcut, str) else shortcut
        except ParamError as e:
            self.problem(f"shortcut: {e}", (*src, "shortcut"), scope, hint=e.hint)
            return None
        if shortcut not in ("auto", "identity"):
            if isinstance(shortcut, str):
                self.problem(
                    f"shortcut must be auto, identity, or layers, got {as_yaml(shortcut)}",
                    (*src, "shortcut"),
                    scope,
                    hint="shortcut: auto (identity when the shapes match, else a 1x1 conv)",
                )
                return None
            shortcut = self.group(
                shortcut, (*src, "shortcut"), scope, SHORTCUT, f"{label}.{SHORTCUT}"
            )
            if shortcut is None:
                return None
        after = None
        if fields.get("after") is not None:
            after = self.group(
                fields["after"], (*src, "after"), scope, "after", label, role=RESIDUAL
            )
            if after is None:
                return None
        if body is None:
            return None
        if after is not None and body.numbered and after.numbered:
            # both lists: the module's children are numbered on, 0..n-1 then n, n+1, ...
            first = len(body.children)
            after = replace(
                after,
                children=tuple(
                    replace(c, name=str(first + i)) for i, c in enumerate(after.children)
                ),
            )
        if after is not None and not self.names_agree(body, after, src, scope):
            return None
        return Residual(name, body, shortcut, after, class_name, src, scope.via, label)

    def names_agree(self, body: Sequence, after: Sequence, src: tuple, scope: Scope) -> bool:
        """A name in both body and after must be the same weightless layer: one module used
        twice, as torchvision's BasicBlock uses `self.relu` twice."""
        if body.numbered or after.numbered:
            return True
        mine = {c.name: c for c in body.children}
        for child in after.children:
            twin = mine.get(child.name)
            if twin is None:
                continue
            if not (
                isinstance(twin, Layer)
                and isinstance(child, Layer)
                and twin.spec == child.spec
                and twin.spec.weightless
            ):
                self.problem(
                    f"'{child.name}' names two different modules of one Residual",
                    child.src,
                    scope,
                    hint="rename one; a name may repeat only for the same layer without weights "
                    "(e.g. relu), which then is one module used twice",
                )
                return False
        return True

    def parallel(
        self,
        fields: Mapping,
        src: tuple,
        scope: Scope,
        name: str,
        label: str,
        class_name: str | None,
    ) -> Node | None:
        merge = fields.get("merge", "concat")
        try:
            merge = substitute(merge, scope.params)
        except ParamError as e:
            self.problem(f"merge: {e}", (*src, "merge"), scope, hint=e.hint)
            return None
        if merge not in ("concat", "sum"):
            self.problem(
                f"merge must be concat or sum, got {as_yaml(merge)}",
                (*src, "merge"),
                scope,
                hint="concat joins the branches' channels (Inception, Fire); sum adds them",
            )
            return None
        raw = fields.get("branches")
        bsrc = (*src, "branches")
        if isinstance(raw, list) and len(raw) >= 2:
            named = [(str(i), b) for i, b in enumerate(raw)]
        elif isinstance(raw, Mapping) and len(raw) >= 2:
            named = [(str(k), b) for k, b in raw.items()]
        else:
            self.problem(
                f"Parallel needs at least two branches, got {as_yaml(raw)}",
                bsrc if raw is not None else src,
                scope,
                hint=_EXAMPLE["Parallel"],
            )
            return None
        branches = []
        for key, branch in named:
            index: Any = int(key) if isinstance(raw, list) else key
            refusal = name_refusal(key, BRANCH, "a branch") if isinstance(raw, Mapping) else None
            if refusal is not None:
                message, hint = refusal
                self.problem(message, (*bsrc, index), scope, hint=hint, where=f"{label}.{key}")
                return None
            group = self.group(branch, (*bsrc, index), scope, key, f"{label}.{key}")
            if group is None:
                return None
            branches.append(group)
        return Parallel(name, tuple(branches), merge, class_name, src, scope.via, label)


_EXAMPLE = {
    "Residual": "e.g. Residual: {body: [...], shortcut: auto, after: [ReLU]}",
    "Parallel": "e.g. Parallel: {branches: {a: [...], b: [...]}, merge: concat}",
}


def _closest(name: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(name, known, n=1)
    return close[0] if close else None


def name_refusal(name: str, role: str, what: str) -> tuple[str, str] | None:
    """(message, fix) when `name` cannot name `what` (a section, a layer, a branch), else None:
    it must be an identifier, and must not clash with an attribute of the module it joins."""
    if not name.isidentifier():
        return (
            f"'{name}' cannot name {what}: a name is an identifier (letters, digits and "
            "underscores, not starting with a digit)",
            "e.g. features, conv1, bn1, relu" if role == SECTION else "e.g. conv1, bn1, relu",
        )
    reason = name_clash(name, role)
    if reason is None:
        return None
    return f"'{name}' cannot name {what}: {reason}", f"rename it, e.g. {free_name(name, role)}"


def expand(doc: Document, problems: list[Problem]) -> dict[str, Sequence]:
    """The sections of `doc` as trees; problems are appended to `problems`."""
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
        if not isinstance(items, list | Mapping):
            problems.append(
                Problem(
                    f"section {name} must be a list of layers",
                    hint="write each layer on its own line starting with '- '",
                    line=doc.line_of(src),
                )
            )
            continue
        group = expander.group(items, src, Scope(), name, name)
        if group is not None:
            sections[name] = group
    return sections
