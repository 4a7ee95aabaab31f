"""The items of a list or mapping of layers expanded: `repeat` and `first`, a layer kind
checked against its schema, and a block's use with its parameters bound."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from archspec.expand_base import ExpandBase, Scope, closest, name_refusal
from archspec.expand_blocks import REQUIRED, STRUCTURES, BlockDef
from archspec.layers import LAYER_KINDS, suggest_kind
from archspec.layers.reserved import LAYER
from archspec.params import Deferred, ParamError, is_reference, referenced_names, substitute
from archspec.tree import Layer, Node, Sequence
from archspec.validate import as_yaml, validate_fields

ITEM_OPTIONS = ("repeat", "first", "names")
# `names: denselayer{n}` names a repeat's copies ({i} counts from 0, {n} from 1), as torchvision
# names DenseNet's layers and RegNet's blocks (`block1-{i}`): a name may then hold a hyphen. In a
# block, `{stage}` is its parameter's value (`block{stage}-{i}`).
NAME_TEMPLATE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# Keys of a mapping of named layers that write a structure adding no name level (Fire's
# expand1x1 and expand3x3 beside squeeze): its layers become the mapping's own children.
INLINE_KINDS = ("Parallel", "Residual")
MAX_LAYERS = 100_000  # an expanded network never has this many layers; a typo in repeat might
STAND_INS = (1, 0.5)  # values a deferred field is checked with before its own is known
MAX_DEPTH = 50  # blocks within blocks; deeper is a mistake (or a cycle we did not see)


class ItemExpander(ExpandBase):
    """Groups of layers and their items; a structure is expanded by `self.structure`."""

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
        if isinstance(raw, list) and raw and all(self.is_named_pair(item) for item in raw):
            # `- relu: ReLU` items: named children in a list, where a weightless layer may be
            # named twice (torchvision's Bottleneck runs its one `relu` three times)
            pairs = [
                (str(next(iter(item))), next(iter(item.values())), i) for i, item in enumerate(raw)
            ]
            children = self.named(pairs, src, scope, label, role)
            if children is None:
                return None
            return Sequence(name, children, class_name, False, src, scope.via)
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
            children = self.numbered(raw, src, scope, label)
            if children is None:
                return None
            templated = [isinstance(item, Mapping) and "names" in item for item in raw]
            if any(templated):
                if not all(templated):
                    self.problem(
                        "in a list where one item names its copies (names:), every item does",
                        (*src, templated.index(False)),
                        scope,
                        hint="add names: to this item, or write the list as a mapping of names",
                        where=label,
                    )
                    return None
                if not self.own_names_unique(Sequence("", children), src, scope):
                    return None
            return Sequence(name, children, class_name, not any(templated), src, scope.via)
        if isinstance(raw, Mapping) and raw:
            children = self.named([(k, v, k) for k, v in raw.items()], src, scope, label, role)
            if children is None:
                return None
            return Sequence(name, children, class_name, False, src, scope.via)
        self.problem(
            f"expected a list of layers or a mapping of named layers, got {as_yaml(raw)}",
            src,
            scope,
            hint="write each layer on its own line starting with '- ', or `name: Kind`",
            where=label,
        )
        return None

    def numbered(self, raw: list, src: tuple, scope: Scope, label: str) -> tuple[Node, ...] | None:
        """The children of a list, numbered on across the copies each `repeat` makes; None
        when any item failed (all of them are expanded first, to tell every problem)."""
        children: list[Node] = []
        ok, position = True, 0
        for i, item in enumerate(raw):
            expanded = self.list_item(item, (*src, i), scope, position, label)
            if expanded is None:
                ok, position = False, position + 1
            else:
                children.extend(expanded)
                position += len(expanded)
        return tuple(children) if ok else None

    def is_named_pair(self, item: Any) -> bool:
        """`{relu: ReLU}` in a list: a name (not a kind, block or item option) and one layer."""
        if not (isinstance(item, Mapping) and len(item) == 1):
            return False
        key, value = next(iter(item.items()))
        known = (*LAYER_KINDS, *STRUCTURES, *self.blocks, *ITEM_OPTIONS)
        if not isinstance(key, str) or key in known:
            return False
        if isinstance(value, str):
            return value in LAYER_KINDS or value in self.blocks
        return (
            isinstance(value, Mapping)
            and len(value) == 1
            and str(next(iter(value))) in (*LAYER_KINDS, *STRUCTURES, *self.blocks)
        )

    def named(
        self, pairs: list[tuple[str, Any, Any]], src: tuple, scope: Scope, label: str, role: str
    ) -> tuple[Node, ...] | None:
        """The children of a mapping (or a list of `name: layer` pairs) under the names
        written; each pair is (name, item, where it sits); None when any failed."""
        children = []
        ok = True
        for key, item, at in pairs:
            key = str(key)
            src_key = (*src, at) if at == key else (*src, at, key)
            refusal = name_refusal(key, role, "a layer")
            if refusal is not None:
                message, hint = refusal
                self.problem(message, src_key, scope, hint=hint, where=f"{label}.{key}")
                ok = False
                continue
            if key in INLINE_KINDS:  # a structure that is no module: its layers are named here
                node = self.structure(key, item, src_key, scope, key, label)
                node = replace(node, inline=True) if node is not None else None
            else:
                node = self.item(item, src_key, scope, key, f"{label}.{key}", allow_repeat=False)
            ok = ok and node is not None
            if node is not None:
                children.append(node)
        if not ok:
            return None
        if not self.own_names_unique(Sequence("", tuple(children)), src, scope):
            return None
        return tuple(children)

    def list_item(
        self, item: Any, src: tuple, scope: Scope, start: int, label: str
    ) -> list[Node] | None:
        count, first = 1, None
        if isinstance(item, Mapping) and any(k in ITEM_OPTIONS for k in item):
            count = self.repeat_count(item.get("repeat", 1), (*src, "repeat"), scope)
            first = item.get("first")
            if "first" in item and not self.first_applies(item, src, scope):
                return None
            template = with_params(item.get("names"), scope.params)
            item = {k: v for k, v in item.items() if k not in ITEM_OPTIONS}
            if count is None:
                return None
        else:
            template = None
        if template is not None and not self.template_applies(template, count, src, scope):
            return None
        nodes = []
        for copy in range(count):
            name = str(start + copy)
            if template is not None:
                name = template.replace("{i}", str(copy)).replace("{n}", str(copy + 1))
            node = self.item(
                item,
                src,
                scope,
                name,
                f"{label}[{start + copy}]" if template is None else f"{label}.{name}",
                overrides=first if copy == 0 else None,
            )
            if node is None:
                return None
            nodes.append(node)
        return nodes

    def template_applies(self, template: Any, count: int, src: tuple, scope: Scope) -> bool:
        """`names:` must make a name of each copy, a different one when there are several."""
        at = (*src, "names")
        if not isinstance(template, str) or not NAME_TEMPLATE.match(
            template.replace("{i}", "0").replace("{n}", "1")
        ):
            self.problem(
                f"names must be a name with {{i}} or {{n}} in it, got {as_yaml(template)}",
                at,
                scope,
                hint="e.g. names: denselayer{n} (1, 2, ...) or names: block1-{i} (0, 1, ...)",
            )
            return False
        if count > 1 and "{i}" not in template and "{n}" not in template:
            self.problem(
                f"names: {template} gives the {count} copies one name",
                at,
                scope,
                hint=f"put {{i}} (from 0) or {{n}} (from 1) in it, e.g. {template}{{n}}",
            )
            return False
        return True

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
        computed = is_reference(value)
        try:
            value = substitute(value, scope.params)
        except ParamError as e:
            self.problem(f"repeat: {e}", src, scope, hint=e.hint)
            return None
        if isinstance(value, Deferred):
            self.problem(
                f"repeat: {value} depends on the input's shape, and the number of copies must "
                "be known before any shape is",
                src,
                scope,
                hint="give the count as a number or from numbers the block is given",
            )
            return None
        if computed and value == 0 and not isinstance(value, bool):
            return 0  # a computed count may be none (a RegNet stage of one block has no others)
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
            guess = suggest_kind(kind) or closest(kind, [*self.blocks, *STRUCTURES])
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
            inner = deferred_inside(values[key])
            if inner is not None:  # only a whole field waits for the shapes
                self.problem(
                    f"{key}: {inner} depends on the input's shape, which only a field's whole "
                    "value may",
                    (*src, key),
                    scope,
                    hint=f"write the whole field as one expression ({key}: {inner}), or numbers",
                    where=f"{label} {kind}.{key}",
                )
                return None
        deferred = tuple((k, v) for k, v in values.items() if isinstance(v, Deferred))
        result = self.validate_with_stand_ins(schema, values, deferred, fields, src, scope, label)
        if result is None:
            return None
        return Layer(name, result, src, scope.via, label, deferred, scope.use)

    def validate_with_stand_ins(
        self,
        schema: type,
        values: dict[str, Any],
        deferred: tuple,
        fields: Mapping,
        src: tuple,
        scope: Scope,
        label: str,
    ) -> Any:
        """The layer validated, a field known only with the shapes (`groups: $in_channels`)
        standing in as 1 (or 0.5, for a probability) until then; None when a field is bad."""
        kind = schema.kind()
        later = {k for k, _ in deferred}
        result: Any = None
        for stand_in in STAND_INS:
            trial = {k: (stand_in if k in later else v) for k, v in values.items()}
            result = validate_fields(
                schema,
                trial,
                lambda path: self.line_of_field(path, fields, scope),
                src,
                f"{label} {kind}",
            )
            if not isinstance(result, list):
                return result
            if not any(p.where.endswith(tuple(f".{k}" for k in later)) for p in result):
                break  # the problems are in fields written out: tell them
        via = f" (in {scope.via})" if scope.via else ""
        self.problems.extend(replace(p, message=p.message + via) for p in result)
        return None

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
        index = self.uses.get(block.counted, 0)
        bound = self.bind(block, fields, src, scope)
        if bound is None:
            return None
        params, param_src = bound
        for key, value in params.items():  # `in_channels` at a use: the block's input's
            if isinstance(value, Deferred) and value.anchor is None:
                params[key] = replace(value, anchor=(block.counted, index))
        line = self.doc.line_of(src)
        here = f"{label} {block.name}" + (f" used on line {line}" if line else "")
        # counted by the class it prints under (MBConv with and without expansion are one
        # count), or by its `counter:`
        self.uses[block.counted] = index + 1
        inner = Scope(
            params,
            param_src,
            f"{scope.via} > {here}" if scope.via else here,
            (*scope.stack, block.name),
            (block.counted, index),
        )
        if block.kind == "layers":
            node = self.group(block.body, block.src, inner, name, label, class_name=block.printed)
        else:
            node = self.structure(
                block.kind, block.body, block.src, inner, name, label, block.printed
            )
        if node is not None and block.holds is not None:
            holds_src = (*block.src[:-1], "holds")
            node = self.with_holds(node, block.holds, holds_src, inner)
        return replace(node, use=inner.use) if node is not None else None

    def bind(
        self, block: BlockDef, fields: Mapping, src: tuple, scope: Scope
    ) -> tuple[dict[str, Any], dict[str, tuple]] | None:
        """The values of a block's parameters at one use, and where each was written (a value
        passed down from an outer block's parameter keeps that one's line); None when any is
        unknown, bad, or required and missing (each told)."""
        params: dict[str, Any] = {}
        param_src: dict[str, tuple] = {}
        ok = True
        for key, value in fields.items():
            if key not in block.params:
                close = closest(str(key), list(block.params))
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
        return params, param_src


def with_params(template: Any, params: Mapping[str, Any]) -> Any:
    """`block{stage}-{i}` with the block parameter `stage` written in; {i} and {n} stay."""
    if not isinstance(template, str):
        return template

    def value(match: re.Match) -> str:
        name = match.group(1)
        given = params.get(name)
        if name in ("i", "n") or isinstance(given, bool) or not isinstance(given, int | str):
            return match.group(0)
        return str(given)

    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", value, template)


def deferred_inside(value: Any) -> Deferred | None:
    """A value known only with the shapes inside a list or mapping (`[$in_height, 1]`)."""
    items = (
        value
        if isinstance(value, list)
        else (list(value.values()) if isinstance(value, Mapping) else [])
    )
    for item in items:
        if isinstance(item, Deferred):
            return item
        found = deferred_inside(item)
        if found is not None:
            return found
    return None
