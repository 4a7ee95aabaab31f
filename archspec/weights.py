"""Load a state_dict written under another naming scheme into a compiled spec.

torchvision's ResNet-18 names a tensor `layer1.0.conv1.weight` and `conv1.weight`; the compiled
resnet18.yaml names them `layer1.0.conv1.weight` and `stem.conv1.weight`. When every name
agrees, tensors are matched by name; otherwise by order and shape, which is how both models
register them (the order their modules are written in). A disagreement in count or shape means
the structures differ, and nothing is loaded.

    report = load_state_dict_matching(model, torchvision.models.resnet18().state_dict())
    print(report.render())
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from archspec.errors import UserError


@dataclass(frozen=True)
class LoadReport:
    """What was loaded: how tensors were matched and which name went where."""

    matched_by: Literal["name", "order"]
    pairs: tuple[tuple[str, str], ...]  # (the model's name, the state_dict's name)
    renamed: int  # pairs whose names differ

    def render(self) -> str:
        lines = [
            f"loaded {len(self.pairs)} tensors, matched by {self.matched_by}"
            + (f" ({self.renamed} under another name)" if self.renamed else "")
        ]
        lines += [f"  {mine} <- {theirs}" for mine, theirs in self.pairs if mine != theirs]
        return "\n".join(lines)


def load_state_dict_matching(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor]
) -> LoadReport:
    """Load `state_dict` into `model` by name, or else by order and shape.

    Raises UserError naming the first disagreement (a missing tensor, a count or a shape that
    differs) before anything is copied: the model is either fully loaded or untouched.
    """
    target = model.state_dict()
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise UserError(
                f"the state_dict's entry {key!r} is not a tensor ({type(value).__name__})"
            )
    if set(target) == set(state_dict):
        pairs = [(key, key) for key in target]
        matched_by: Literal["name", "order"] = "name"
    else:
        if len(target) != len(state_dict):
            raise UserError(
                f"the model has {len(target)} tensors but the state_dict has {len(state_dict)}; "
                f"the structures differ{_first_difference(target, state_dict)}"
            )
        pairs = list(zip(target, state_dict, strict=True))
        matched_by = "order"
    for index, (mine, theirs) in enumerate(pairs):
        want, got = tuple(target[mine].shape), tuple(state_dict[theirs].shape)
        if want != got:
            raise UserError(
                f"tensor {index} disagrees: the model's {mine} is {_shape(want)} but the "
                f"state_dict's {theirs} is {_shape(got)} (matched by {matched_by}); the "
                "structures differ, nothing was loaded"
            )
    model.load_state_dict({mine: state_dict[theirs] for mine, theirs in pairs}, strict=True)
    renamed = sum(mine != theirs for mine, theirs in pairs)
    return LoadReport(matched_by, tuple(pairs), renamed)


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if shape else "a scalar"


def _first_difference(target: Mapping[str, torch.Tensor], source: Mapping) -> str:
    """Where the two lists of shapes first part, to say which layer is missing or extra."""
    for index, (mine, theirs) in enumerate(zip(target, source, strict=False)):
        if tuple(target[mine].shape) != tuple(source[theirs].shape):
            return (
                f" (in order, first at tensor {index}: the model's {mine} "
                f"{_shape(tuple(target[mine].shape))}, the state_dict's {theirs} "
                f"{_shape(tuple(source[theirs].shape))})"
            )
    shorter = min(len(target), len(source))
    extra = list(target)[shorter:] or list(source)[shorter:]
    owner = "model" if len(target) > len(source) else "state_dict"
    return f" (the {owner} has {extra[0]} and more after the last common tensor)"
