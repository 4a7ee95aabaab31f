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

    def __init__(self, class_name: str, branches: OrderedDict[str, nn.Module], merge: str):
        super().__init__()
        self.class_name, self.merge = class_name, merge
        for name, module in branches.items():
            self.add_module(name, module)
        # A branch starting in place would change the input the other branches read.
        self.keep_input = any(_starts_in_place([b]) for b in branches.values())

    def _get_name(self) -> str:
        return self.class_name

    def extra_repr(self) -> str:
        return f"merge={self.merge}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [branch(x.clone() if self.keep_input else x) for branch in self.children()]
        if self.merge == "concat":
            return torch.cat(outs, dim=1)  # (B, C1, H, W), (B, C2, H, W) -> (B, C1+C2, H, W)
        total = outs[0]
        for out in outs[1:]:
            total = total + out
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
        for section in self.section_names:
            self.add_module(section, _build(resolved.sections[section], resolved.num_classes))

    def _get_name(self) -> str:  # what nn.Module.__repr__ prints as the class name
        return self.spec_name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for section in self.section_names:
            if section in self.flatten_before:
                x = torch.flatten(x, 1)  # (B, C, H, W) -> (B, C*H*W)
            x = getattr(self, section)(x)
        return x


def _starts_in_place(modules) -> bool:
    """Whether the first leaf module run on the input modifies it in place."""
    for module in modules:
        while len(list(module.children())) > 0:
            module = next(iter(module.children()))
        return bool(getattr(module, "inplace", False))
    return False


def _children(node: RSequence, num_classes: int) -> OrderedDict[str, nn.Module]:
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    for child in node.children:
        name = child.attr if isinstance(child, ResolvedLayer) else child.name
        modules[name] = _build(child, num_classes)
    return modules


def _build(node: RNode, num_classes: int) -> nn.Module:
    if isinstance(node, ResolvedLayer):
        return node.layer.build(node.in_shape, num_classes)
    if isinstance(node, RSequence):
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
    return ParallelBlock(node.class_name or "Parallel", branches, node.merge)


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
