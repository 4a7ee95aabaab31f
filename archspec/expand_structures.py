"""The structures a spec writes where a layer goes: Residual (a body plus a shortcut),
Parallel (branches on one input, merged) and Sequential (layers grouped into one submodule),
each checked and expanded into its tree node."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from archspec.document_tree import is_class_name
from archspec.expand_base import ExpandBase, Scope, closest, name_refusal
from archspec.layers import LAYER_KINDS
from archspec.layers.reserved import BRANCH, LAYER, RESIDUAL, SHORTCUT
from archspec.params import ParamError, substitute
from archspec.tree import Layer, Node, Parallel, Residual, Sequence
from archspec.validate import as_yaml

STRUCTURE_FIELDS = {  # what `archspec layers` says of them
    "Residual": "out = after(body(x) + shortcut(x))\n    body: required, layers\n"
    "    shortcut: default auto (identity, or a 1x1 conv when the shape changes), identity, "
    "identity_or_none (no sum when the shape changes), or layers\n"
    "    drop_path: optional, layers applied to the body's output only where it is summed "
    "(stochastic depth)\n    after: optional, layers applied to the sum",
    "Parallel": "branches on the same input, merged\n    branches: required, two or more "
    "lists of layers, a mapping of named branches, or a list of mappings of named layers "
    "(and identity) that add no name level\n"
    "    merge: default concat (channels), sum, or multiply (a gate, e.g. squeeze-and-excitation)"
    "\n    split: default false; true gives each branch its share of the input's channels",
    "Sequential": "layers grouped into one submodule: a list, or a mapping of named layers\n"
    "    or {class: Name, layers: ...} to print it under a class name",
}
for _kind in ("Residual", "Parallel"):
    STRUCTURE_FIELDS[_kind] += (
        "\n    class: optional, the class name it prints under\n    holds: optional, its own "
        "children's names in the order the module holds them, where it runs them in another"
    )
MERGES = ("concat", "sum", "multiply")
IDENTITY = "identity"  # a branch that passes its input on (DenseNet's, a gate's other side)
SHORTCUTS = ("auto", "identity", "identity_or_none")
CLASS = "class"  # the optional name a Residual, Parallel or Sequential prints under
HOLDS = "holds"  # the order its module holds its children in, if not the order they run

EXAMPLE = {
    "Residual": "e.g. Residual: {body: [...], shortcut: auto, after: [ReLU]}",
    "Parallel": "e.g. Parallel: {branches: {a: [...], b: [...]}, merge: concat}",
}


class StructureExpander(ExpandBase):
    """Residual, Parallel and Sequential; their layers are expanded by `self.group`."""

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
        if kind == "Sequential":
            return self.sequential(fields, src, scope, name, label, class_name)
        allowed = {
            "Residual": ("body", "shortcut", "drop_path", "after", CLASS, HOLDS),
            "Parallel": ("branches", "merge", "split", CLASS, HOLDS),
        }[kind]
        if not isinstance(fields, Mapping):
            self.problem(
                f"{kind} must be a mapping of {', '.join(allowed)}", src, scope, hint=EXAMPLE[kind]
            )
            return None
        bad = [k for k in fields if k not in allowed]
        for key in bad:
            close = closest(str(key), list(allowed))
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
            node = self.residual(fields, src, scope, name, label, class_name)
        else:
            node = self.parallel(fields, src, scope, name, label, class_name)
        if node is not None and HOLDS in fields:
            return self.with_holds(node, fields[HOLDS], (*src, HOLDS), scope)
        return node

    def sequential(
        self,
        fields: Any,
        src: tuple,
        scope: Scope,
        name: str,
        label: str,
        class_name: str | None,
    ) -> Sequence | None:
        if not (isinstance(fields, Mapping) and CLASS in fields):
            return self.group(fields, src, scope, name, label, class_name)
        # {class: Fire, layers: ...}: a group printed under a class name, as a block is
        extra = [k for k in fields if k not in (CLASS, "layers", HOLDS)]
        if extra or "layers" not in fields:
            self.problem(
                "a Sequential with a class takes class, layers and holds"
                + (f", not {', '.join(map(str, extra))}" if extra else ""),
                src,
                scope,
                hint="e.g. Sequential: {class: Fire, layers: {squeeze: ..., expand: ...}}",
            )
            return None
        class_name = class_name or self.class_of(fields, src, scope)
        if class_name is None:
            return None
        node = self.group(fields["layers"], (*src, "layers"), scope, name, label, class_name)
        if node is not None and HOLDS in fields:
            return self.with_holds(node, fields[HOLDS], (*src, HOLDS), scope)
        return node

    def with_holds(self, node: Node, holds: Any, src: tuple, scope: Scope) -> Node | None:
        """`node` holding its own children in the order `holds` names them (tree.HELD)."""
        names = list(dict.fromkeys(c.name for c in own_children(node)))
        # a shortcut's `downsample` may be listed or not: `auto` may make none (unlisted, it
        # comes last)
        listed = [str(h) for h in holds] if isinstance(holds, list) else []
        needed = sorted(n for n in names if n != SHORTCUT)
        if not (
            isinstance(holds, list)
            and len(set(listed)) == len(listed)
            and sorted(n for n in listed if n != SHORTCUT) == needed
        ):
            self.problem(
                "holds must name the module's own children once each ("
                + ", ".join(needed)
                + ("; downsample optional" if SHORTCUT in names else "")
                + "), "
                f"in the order the module holds them; got {as_yaml(holds)}",
                src,
                scope,
                hint="list them as torchvision's __init__ registers them, e.g. "
                "holds: [norm1, attn, stochastic_depth, norm2, mlp]",
            )
            return None
        return replace(node, held=tuple(listed))

    def class_of(self, fields: Mapping, src: tuple, scope: Scope) -> str | None:
        """The `class:` a structure prints under (a block's name, kept by `archspec expand`)."""
        value = fields[CLASS]
        if is_class_name(value) and value not in LAYER_KINDS:
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
            self.problem("Residual needs a body", src, scope, hint=EXAMPLE["Residual"])
            return None
        body = self.group(fields["body"], (*src, "body"), scope, "body", label, role=RESIDUAL)
        shortcut: Any = fields.get("shortcut", "auto")
        try:
            shortcut = substitute(shortcut, scope.params) if isinstance(shortcut, str) else shortcut
        except ParamError as e:
            self.problem(f"shortcut: {e}", (*src, "shortcut"), scope, hint=e.hint)
            return None
        if shortcut not in SHORTCUTS:
            if isinstance(shortcut, str):
                self.problem(
                    "shortcut must be auto, identity, identity_or_none, or layers, got "
                    f"{as_yaml(shortcut)}",
                    (*src, "shortcut"),
                    scope,
                    hint="shortcut: auto (identity when the shapes match, else a 1x1 conv); "
                    "identity_or_none (no sum when the shapes differ)",
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
        drop = None
        if fields.get("drop_path") is not None:
            drop = self.group(
                fields["drop_path"], (*src, "drop_path"), scope, "drop_path", label, role=RESIDUAL
            )
            if drop is None:
                return None
        # lists: the module's children are numbered on, body 0..n-1, then drop_path, then after
        first = len(body.children)
        if drop is not None and body.numbered and drop.numbered:
            drop = _numbered_from(drop, first)
            first += len(drop.children)
        if after is not None and body.numbered and after.numbered:
            after = _numbered_from(after, first)
        node = Residual(name, body, shortcut, after, class_name, src, scope.via, label, drop=drop)
        # a name in body and after may only be one weightless layer, used twice (`relu`)
        if not self.own_names_unique(node, src, scope):
            return None
        return node

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
        if merge not in MERGES:
            self.problem(
                f"merge must be concat, sum or multiply, got {as_yaml(merge)}",
                (*src, "merge"),
                scope,
                hint="concat joins the branches' channels (Inception, Fire); sum adds them; "
                "multiply gates one by another (squeeze-and-excitation)",
            )
            return None
        split = fields.get("split", False)
        try:
            split = substitute(split, scope.params)
        except ParamError as e:
            self.problem(f"split: {e}", (*src, "split"), scope, hint=e.hint)
            return None
        if not isinstance(split, bool):
            self.problem(
                f"split must be true or false, got {as_yaml(split)}",
                (*src, "split"),
                scope,
                hint="split: true gives each branch its share of the input's channels",
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
                hint=EXAMPLE["Parallel"],
            )
            return None
        # A list of mappings of named layers (or `identity`): the branches add no name level.
        flat = isinstance(raw, list) and any(isinstance(b, Mapping) or b == IDENTITY for b in raw)
        branches = []
        for key, branch in named:
            index: Any = int(key) if isinstance(raw, list) else key
            refusal = name_refusal(key, BRANCH, "a branch") if isinstance(raw, Mapping) else None
            if refusal is not None:
                message, hint = refusal
                self.problem(message, (*bsrc, index), scope, hint=hint, where=f"{label}.{key}")
                return None
            if branch == IDENTITY or (flat and isinstance(branch, Mapping) and not branch):
                if not flat:
                    self.problem(
                        "an identity branch has no module to name, so it goes in a list of "
                        "branches written as mappings of named layers",
                        (*bsrc, index),
                        scope,
                        hint="e.g. branches: [identity, {fc1: ..., act: ReLU}]; among named "
                        "branches, an empty list is the identity (b: [])",
                    )
                    return None
                branches.append(Sequence(key, (), None, False, (*bsrc, index), scope.via))
                continue
            if not flat and branch == []:  # `branch1: []`: an empty Sequential, the identity
                branches.append(Sequence(key, (), None, True, (*bsrc, index), scope.via))
                continue
            if flat and not isinstance(branch, Mapping):
                self.problem(
                    "in a list of branches written as mappings of named layers, every branch "
                    f"is such a mapping (or identity), got {as_yaml(branch)}",
                    (*bsrc, index),
                    scope,
                    hint="name this branch's layers, e.g. {conv: {Conv2d: ...}, relu: ReLU}",
                )
                return None
            role = BRANCH if flat else LAYER
            group = self.group(branch, (*bsrc, index), scope, key, f"{label}.{key}", role=role)
            if group is None:
                return None
            branches.append(group)
        node = Parallel(
            name, tuple(branches), merge, class_name, src, scope.via, label, flat, split=split
        )
        if flat and not self.own_names_unique(node, src, scope):
            return None
        return node

    def own_names_unique(self, node: Node, src: tuple, scope: Scope) -> bool:
        """The names a module gets from its own children, and from the layers of branches or
        inline structures that add no name level, must differ, but for one weightless layer
        written twice (a relu used again)."""
        seen: dict[str, Node] = {}
        for child in own_children(node):
            twin = seen.setdefault(child.name, child)
            if twin is child:
                continue
            if not (
                isinstance(twin, Layer)
                and isinstance(child, Layer)
                and twin.spec == child.spec
                and twin.spec.weightless
            ):
                if child.name == SHORTCUT:  # two projecting shortcuts, one attribute
                    self.problem(
                        f"two residuals inside one {type(node).__name__} would each keep their "
                        f"shortcut as its '{SHORTCUT}'",
                        child.src,
                        scope,
                        hint="write shortcut: identity (or identity_or_none) on all but one: "
                        "shortcut: auto may need a projection",
                    )
                    return False
                self.problem(
                    f"'{child.name}' names two different modules of one {type(node).__name__}",
                    child.src,
                    scope,
                    hint="rename one; a name may repeat only for the same layer without weights "
                    "(e.g. relu), which then is one module used twice",
                )
                return False
        return True


def own_children(node: Node) -> list[Node]:
    """The children a node's module holds: through flat branches and inline structures, the
    layers inside them."""
    if isinstance(node, Sequence):
        return [leaf for child in node.children for leaf in _named_here(child)]
    if isinstance(node, Parallel):
        if not node.flat:
            return list(node.branches)
        return [leaf for branch in node.branches for leaf in own_children(branch)]
    if isinstance(node, Residual):
        out = own_children(node.body) + (own_children(node.drop) if node.drop else [])
        if node.shortcut not in ("identity", "identity_or_none"):  # it may hold `downsample`
            out.append(Sequence(SHORTCUT, (), src=node.src))
        return out + (own_children(node.after) if node.after else [])
    return [node]


def _numbered_from(group: Sequence, first: int) -> Sequence:
    children = tuple(replace(c, name=str(first + i)) for i, c in enumerate(group.children))
    return replace(group, children=children)


def _named_here(child: Node) -> list[Node]:
    if isinstance(child, Parallel | Residual) and child.inline:
        return own_children(child)
    return [child]
