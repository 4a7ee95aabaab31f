"""The fully resolved spec as YAML: `extends` applied, blocks and repeats written out, every
inferred size (in_channels, in_features, num_features) and every `shortcut: auto` filled in.

It builds the same modules under the same names, so the same state_dict, and prints the same: a
block becomes the construct it was defined with, keeping its name as `class`
(`Residual: {class: BasicBlock, body: ...}`, `Sequential: {class: Fire, layers: ...}`).
"""

from __future__ import annotations

from typing import Any

import yaml

from archspec.shapes import (
    PLACEHOLDER_NUM_CLASSES,
    ResolvedLayer,
    ResolvedSpec,
    RNode,
    RParallel,
    RResidual,
    RSequence,
    resolve,
    uses_num_classes,
)
from archspec.spec import Spec

# A second stand-in for an unbound num_classes: an in-size that changes with it follows from
# num_classes and is left to be inferred.
OTHER_PLACEHOLDER = PLACEHOLDER_NUM_CLASSES + 4


class _Flow(dict):
    """A mapping written on one line: a layer's fields."""


def expanded_data(spec: Spec, num_classes: int | None) -> dict[str, Any]:
    """The spec as plain data in which nothing is left to expand or infer.

    With `num_classes` None, fields written `num_classes` stay so, and a size that follows from
    it stays inferred; otherwise the count is written in.
    """
    resolved = resolve(spec, num_classes, allow_unbound=True)
    follows: set[str] = set()
    if num_classes is None and uses_num_classes(spec):
        other = resolve(spec, OTHER_PLACEHOLDER, allow_unbound=True)
        follows = {
            a.path
            for a, b in zip(resolved.layers, other.layers, strict=True)
            if a.in_shape != b.in_shape
        }
    writer = _Writer(resolved, num_classes, follows)
    data: dict[str, Any] = {"name": spec.name, "input_shape": list(spec.input_shape)}
    if spec.description:
        data["description"] = spec.description
    data["sections"] = {name: writer.group(node) for name, node in resolved.sections.items()}
    return data


def expanded_yaml(spec: Spec, num_classes: int | None) -> str:
    return yaml.dump(
        expanded_data(spec, num_classes),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        width=100,
        allow_unicode=True,
    )


class _Writer:
    def __init__(self, resolved: ResolvedSpec, num_classes: int | None, follows: set[str]):
        self.resolved, self.num_classes, self.follows = resolved, num_classes, follows

    def group(self, node: RSequence) -> Any:
        """A list for numbered children (nn.Sequential), a mapping for named ones (a list of
        `name: layer` pairs where a name repeats), the one item of a section that is one."""
        if node.bare:
            return self.item(node.children[0])
        if node.numbered:
            return [self.item(child) for child in node.children]
        # a named layer on one line: `conv1: {Conv2d: {...}}`, as specs write them
        pairs = [(_key(child), self.named_item(child)) for child in node.children]
        if len({key for key, _ in pairs}) < len(pairs):
            return [{key: item} for key, item in pairs]
        return dict(pairs)

    def named_item(self, child: RNode) -> Any:
        item = self.item(child)
        if isinstance(child, RParallel | RResidual) and child.inline:
            return next(iter(item.values()))  # written under the key Parallel or Residual
        return _Flow(item) if isinstance(item, dict) and _is_layer(child) else item

    def item(self, node: RNode) -> Any:
        if isinstance(node, ResolvedLayer):
            return self.layer(node)
        named = {"class": node.class_name} if getattr(node, "class_name", None) else {}
        if getattr(node, "held", None):
            named["holds"] = list(node.held)
        if isinstance(node, RSequence):
            if named:
                return {"Sequential": {**named, "layers": self.group(node)}}
            return {"Sequential": self.group(node)}
        if isinstance(node, RResidual):
            fields: dict[str, Any] = {**named, "body": self.group(node.body)}
            if not node.adds:
                fields["shortcut"] = "identity_or_none"  # and the shapes differ: no sum
            elif node.shortcut is None:
                fields["shortcut"] = "identity"
            else:
                fields["shortcut"] = self.group(node.shortcut)
            if node.drop is not None:
                fields["drop_path"] = self.group(node.drop)
            if node.after is not None:
                fields["after"] = self.group(node.after)
            return {"Residual": fields}
        assert isinstance(node, RParallel)  # the resolved tree has four node types
        return {
            "Parallel": {
                **named,
                "branches": [self.group(b) if b.children else "identity" for b in node.branches]
                if node.flat
                else {branch.name: self.group(branch) for branch in node.branches},
                "merge": node.merge,
                **({"split": True} if node.split else {}),
            }
        }

    def layer(self, node: ResolvedLayer) -> Any:
        layer = node.layer
        fields = layer.model_dump(mode="json", exclude_unset=True)
        if self.num_classes is not None:
            fields = {
                k: layer.bind(v, self.num_classes) if v == "num_classes" else v
                for k, v in fields.items()
            }
        size = layer.in_size_field
        if size is not None and node.path not in self.follows:
            # the in-size first, as PyTorch's signatures have it: Conv2d(in_channels, ...)
            fields = {
                size: layer.in_size(node.in_shape),
                **{k: v for k, v in fields.items() if k != size},
            }
        return {layer.kind(): _Flow(fields)} if fields else layer.kind()


def _is_layer(node: RNode) -> bool:
    return isinstance(node, ResolvedLayer)


def _key(node: RNode) -> str:
    if isinstance(node, RParallel | RResidual) and node.inline:
        return "Parallel" if isinstance(node, RParallel) else "Residual"
    return node.attr if isinstance(node, ResolvedLayer) else node.name


class _Dumper(yaml.SafeDumper):
    """Safe YAML; layers' fields on one line, as a spec is written by hand."""


def _flow(dumper: yaml.SafeDumper, data: _Flow) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", dict(data), flow_style=True)


def _flow_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    # pairs such as kernel_size: [3, 3] and input_shape on one line; lists of layers in blocks
    flat = all(isinstance(v, int | float | str) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat or None)


_Dumper.add_representer(_Flow, _flow)
_Dumper.add_representer(list, _flow_list)
