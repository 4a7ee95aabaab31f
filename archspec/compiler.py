"""Turn a resolved spec into an nn.Module that prints like a hand-written one."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from archspec.shapes import ResolvedSpec, num_classes_for, resolve
from archspec.spec import Spec, load_spec


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
            layers = [
                r.layer.build(r.in_shape, resolved.num_classes)
                for r in resolved.section_layers(section)
            ]
            self.add_module(section, nn.Sequential(*layers))

    def _get_name(self) -> str:  # what nn.Module.__repr__ prints as the class name
        return self.spec_name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for section in self.section_names:
            if section in self.flatten_before:
                x = torch.flatten(x, 1)  # (B, C, H, W) -> (B, C*H*W)
            x = getattr(self, section)(x)
        return x


def compile_spec(resolved: ResolvedSpec) -> SpecModel:
    return SpecModel(resolved)


def build_model(
    spec: Spec | str | Path, *, task: str | None = None, num_classes: int | None = None
) -> SpecModel:
    """Spec (or spec file) -> model, `num_classes` bound by the task or given directly."""
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    return compile_spec(resolve(spec, num_classes_for(task, num_classes)))
