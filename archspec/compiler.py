"""Turn a resolved spec into an nn.Module that prints like a hand-written one.

The only stage that imports torch. A list of layers becomes an nn.Sequential (children 0, 1, 2),
a mapping of named layers one with those names; a block prints under its own class name, and a
residual block holds its layers as its own attributes, as torchvision's BasicBlock does:

    BasicBlock(
      (conv1): Conv2d(64, 128, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)
      ...
      (downsample): Sequential(...)
    )
"""

from __future__ import annotations

from collections import OrderedDict
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import nn

from archspec.layers.reserved import SHORTCUT
from archspec.modules import APPLY
from archspec.shapes import (
    ResolvedLayer,
    ResolvedSpec,
    RNode,
    RParallel,
    RResidual,
    RSequence,
    num_classes_for,
    resolve,
)
from archspec.spec import Spec, load_spec


class Block(nn.Sequential):
    """A block written as a list or mapping of layers: a Sequential printed under its name."""

    def __init__(self, class_name: str, modules: OrderedDict[str, nn.Module]):
        super().__init__(modules)
        self.class_name = class_name

    def _get_name(self) -> str:
        return self.class_name


class ResidualBlock(nn.Module):
    """out = after(body(x) + shortcut(x)); the shortcut is `downsample`, or the identity."""

    def __init__(
        self,
        class_name: str,
        body: OrderedDict[str, nn.Module],
        downsample: nn.Module | None,
        after: OrderedDict[str, nn.Module],
    ):
        super().__init__()
        self.class_name = class_name
        self.body_names, self.after_names = tuple(body), tuple(after)
        for name, module in body.items():
            self.add_module(name, module)
        if downsample is not None:
            self.downsample = downsample
        for name, module in after.items():
            if name not in body:  # a weightless layer named in both is one module, used twice
                self.add_module(name, module)
        self.has_downsample = downsample is not None
        # An in-place first layer (ReLU(inplace=True)) would overwrite the identity (x itself).
        self.keep_input = not self.has_downsample and _starts_in_place(body.values())

    def _get_name(self) -> str:
        return self.class_name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = self.downsample(x) if self.has_downsample else x
        if self.keep_input:
            identity = x.clone()
        out = x
        for name in self.body_names:
            out = getattr(self, name)(out)
        out = out + identity
        for name in self.after_names:
            out = getattr(self, name)(out)
        return out


class ParallelBlock(nn.Module):
    """Branches on the same input, merged by channel concatenation or by sum."""

    def __init__(
        self,
        class_name: str,
        branches: OrderedDict[str, nn.Module],
        merge: str,
        split: bool = False,
    ):
        super().__init__()
        self.class_name, self.merge, self.split = class_name, merge, split
        for name, module in branches.items():
            self.add_module(name, module)
        # A branch starting in place would change the input the other branches read.
        self.keep_input = any(_starts_in_place([b]) for b in branches.values())

    def _get_name(self) -> str:
        return self.class_name

    def extra_repr(self) -> str:
        return f"merge={self.merge}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = list(self.children())
        if self.split:  # each branch reads its share of the channels (ShuffleNet v2)
            parts = x.chunk(len(branches), 1)
            return _merge(self.merge, [b(p) for b, p in zip(branches, parts, strict=True)])
        outs = [branch(x.clone() if self.keep_input else x) for branch in branches]
        return _merge(self.merge, outs)


class ProgramBlock(nn.Module):
    """A module whose children do not simply run once each in order: a Parallel whose
    branches add no name level, or a block holding a structure written inline (Fire's
    expand1x1 and expand3x3 beside its squeeze). `program` says how the children run:

        ("m", name)                                       the child `name`
        ("seq", (step, ...))                              one after another
        ("par", merge, (step, ...), keep_input, split)    branches on one input, merged
        ("res", body, shortcut | None, after | None, keep_input, adds, drop_path | None)
        ("p", name, kind)                                 the learnable tensor `name` applied

    so the module holds its layers as its own attributes, as torchvision's blocks do, and
    the learnable tensors of layers/learned.py as its own parameters (ViT's pos_embedding).
    """

    def __init__(
        self,
        class_name: str,
        modules: OrderedDict[str, nn.Module | nn.Parameter],
        program: tuple,
    ):
        super().__init__()
        self.class_name = class_name
        for name, module in modules.items():
            if isinstance(module, nn.Parameter):
                self.register_parameter(name, module)
            else:
                self.add_module(name, module)
        self.program = program

    def _get_name(self) -> str:
        return self.class_name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _run(self, self.program, x)


def _run(owner: nn.Module, step: tuple, x: torch.Tensor) -> torch.Tensor:
    op = step[0]
    if op == "m":
        return getattr(owner, step[1])(x)
    if op == "p":
        return APPLY[step[2]](x, getattr(owner, step[1]))
    if op == "seq":
        for inner in step[1]:
            x = _run(owner, inner, x)
        return x
    if op == "par":
        _, merge, branches, keep_input, split = step
        if split:
            parts = x.chunk(len(branches), 1)
            return _merge(merge, [_run(owner, b, p) for b, p in zip(branches, parts, strict=True)])
        return _merge(merge, [_run(owner, b, x.clone() if keep_input else x) for b in branches])
    _, body, shortcut, after, keep_input, adds, drop = step
    identity = _run(owner, shortcut, x) if shortcut is not None else x
    if keep_input:
        identity = x.clone()
    out = _run(owner, body, x)
    if adds:
        out = (_run(owner, drop, out) if drop is not None else out) + identity
    return _run(owner, after, out) if after is not None else out


def _merge(merge: str, outs: list[torch.Tensor]) -> torch.Tensor:
    if merge == "concat":
        return torch.cat(outs, dim=1)  # (B, C1, H, W), (B, C2, H, W) -> (B, C1+C2, H, W)
    total = outs[0]
    for out in outs[1:]:
        total = total * out if merge == "multiply" else total + out  # multiply: a gate
    return total


class SpecModel(nn.Module):
    """Sections as nn.Sequential attributes, run in order, flattening where the spec needs it.

    The printed class name is the spec's name (`AlexNetDilation(...)`), so the model prints
    exactly as the same network written by hand in PyTorch.
    """

    def __init__(self, resolved: ResolvedSpec):
        super().__init__()
        self.spec_name = resolved.spec.name
        self.section_names = tuple(resolved.spec.sections)
        self.flatten_before = frozenset(resolved.flatten_before)
        # sections that are one learnable tensor (ViT's class_token): name -> kind
        self.learned: dict[str, str] = {}
        for section in self.section_names:
            built = _build(resolved.sections[section], resolved.num_classes)
            if isinstance(built, nn.Parameter):
                self.register_parameter(section, built)
                self.learned[section] = resolved.sections[section].children[0].layer.kind()
            else:
                self.add_module(section, built)

    def _get_name(self) -> str:  # what nn.Module.__repr__ prints as the class name
        return self.spec_name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for section in self.section_names:
            if section in self.flatten_before:
                x = torch.flatten(x, 1)  # (B, C, H, W) -> (B, C*H*W)
            if section in self.learned:
                x = APPLY[self.learned[section]](x, getattr(self, section))
            else:
                x = getattr(self, section)(x)
        return x


def _starts_in_place(modules) -> bool:
    """Whether the first leaf module run on the input modifies it in place."""
    for module in modules:
        while len(list(module.children())) > 0:
            module = next(iter(module.children()))
        return bool(getattr(module, "inplace", False))
    return False


def _first_in_place(node: RNode) -> bool:
    """Whether a node's first layer (any branch's, for a Parallel) modifies its input."""
    if isinstance(node, ResolvedLayer):
        return bool(getattr(node.layer, "inplace", False))
    if isinstance(node, RSequence):
        return bool(node.children) and _first_in_place(node.children[0])
    if isinstance(node, RResidual):
        return _first_in_place(node.body)
    return any(_first_in_place(b) for b in node.branches)


def _inline(node: RNode) -> bool:
    return isinstance(node, RParallel | RResidual) and node.inline


def _needs_program(node: RNode) -> bool:
    """Whether the module for `node` must say how its children run (see ProgramBlock)."""
    if not isinstance(node, ResolvedLayer) and node.held:
        return True  # held in another order than they run
    if isinstance(node, RSequence):
        names = [c.attr if isinstance(c, ResolvedLayer) else c.name for c in node.children]
        learned = any(isinstance(c, ResolvedLayer) and c.layer.parameter for c in node.children)
        if node.bare and learned:
            return False  # a section that is one learnable tensor: the model's own
        return learned or any(_inline(c) for c in node.children) or len(set(names)) < len(names)
    if isinstance(node, RParallel):
        return node.flat
    if isinstance(node, RResidual):
        parts = [node.body, *([node.after] if node.after else [])]
        return not node.adds or node.drop is not None or any(_needs_program(p) for p in parts)
    return False


def _children(node: RSequence, num_classes: int) -> OrderedDict[str, nn.Module]:
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    for child in node.children:
        name = child.attr if isinstance(child, ResolvedLayer) else child.name
        modules[name] = _build(child, num_classes)
    return modules


def _step(node: RNode, modules: OrderedDict[str, nn.Module], num_classes: int) -> tuple:
    """The program step that runs `node`, adding the modules it needs to `modules` (a name
    written twice for one weightless layer is one module, run twice)."""
    if isinstance(node, ResolvedLayer):
        if node.attr not in modules:
            modules[node.attr] = node.layer.build(node.in_shape, num_classes)
        if node.layer.parameter:
            return ("p", node.attr, node.layer.kind())
        return ("m", node.attr)
    if _inline(node):
        return _content(node, modules, num_classes)
    modules[node.name] = _build(node, num_classes)
    return ("m", node.name)


def _content(node: RNode, modules: OrderedDict[str, nn.Module], num_classes: int) -> tuple:
    """The step of a structure whose layers are the owner's own children."""
    if isinstance(node, RSequence):
        return ("seq", tuple(_step(c, modules, num_classes) for c in node.children))
    if isinstance(node, RParallel):
        if node.flat:
            branches = tuple(_content(b, modules, num_classes) for b in node.branches)
        else:
            branches = tuple(_step(b, modules, num_classes) for b in node.branches)
        keep_input = _first_in_place(node) and len(branches) > 1 and not node.split
        return ("par", node.merge, branches, keep_input, node.split)
    assert isinstance(node, RResidual)  # the tree has four node types
    body = _content(node.body, modules, num_classes)
    drop = _content(node.drop, modules, num_classes) if node.drop else None
    shortcut = None
    if node.shortcut is not None:
        modules[SHORTCUT] = _build(node.shortcut, num_classes)
        shortcut = ("m", SHORTCUT)
    after = _content(node.after, modules, num_classes) if node.after else None
    keep_input = node.adds and node.shortcut is None and _first_in_place(node.body)
    return ("res", body, shortcut, after, keep_input, node.adds, drop)


def _build(node: RNode, num_classes: int) -> nn.Module:
    if isinstance(node, ResolvedLayer):
        return node.layer.build(node.in_shape, num_classes)
    if _needs_program(node):
        modules: OrderedDict[str, nn.Module] = OrderedDict()
        program = _content(node, modules, num_classes)
        if node.held:  # the order torchvision registers them, not the order they run
            order = [name for name in node.held if name in modules]  # `downsample` may be none
            modules = OrderedDict(
                (name, modules[name]) for name in dict.fromkeys([*order, *modules])
            )
        default = {RSequence: "Sequential", RParallel: "Parallel", RResidual: "Residual"}
        return ProgramBlock(node.class_name or default[type(node)], modules, program)
    if isinstance(node, RSequence):
        if node.bare:
            return _build(node.children[0], num_classes)
        modules = _children(node, num_classes)
        if node.class_name:
            return Block(node.class_name, modules)
        return nn.Sequential(modules)
    if isinstance(node, RResidual):
        return ResidualBlock(
            node.class_name or "Residual",
            _children(node.body, num_classes),
            _build(node.shortcut, num_classes) if node.shortcut is not None else None,
            _children(node.after, num_classes) if node.after else OrderedDict(),
        )
    assert isinstance(node, RParallel)  # the tree has four node types
    branches = OrderedDict((b.name, _build(b, num_classes)) for b in node.branches)
    return ParallelBlock(node.class_name or "Parallel", branches, node.merge, node.split)


def compile_spec(resolved: ResolvedSpec, *, device: str | torch.device | None = None) -> SpecModel:
    """The model; with device="meta" no weight is allocated (for printing, and for cost)."""
    with torch.device(device) if device is not None else nullcontext():
        return SpecModel(resolved)


def build_model(
    spec: Spec | str | Path, *, task: str | None = None, num_classes: int | None = None
) -> SpecModel:
    """Spec (or spec file) -> model, `num_classes` bound by the task or given directly."""
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    return compile_spec(resolve(spec, num_classes_for(task, num_classes)))
