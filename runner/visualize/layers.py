"""Which conv layers a checkpoint has, by their human names (`Conv2d-1`, `Conv2d-4`, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from archspec.errors import UserError
from archspec.shapes import ResolvedLayer, resolve
from archspec.text import layer_names
from runner.training.checkpoint import Checkpoint, CheckpointError

CONV_KIND = "Conv2d"


@dataclass(frozen=True)
class ConvLayer:
    """One conv layer's learned weight, named as in the whole model's numbering."""

    resolved: ResolvedLayer
    weight: torch.Tensor  # (out_channels, in_channels / groups, kh, kw)

    @property
    def name(self) -> str:
        return self.resolved.name

    @property
    def file_stem(self) -> str:
        return self.name.lower()  # Conv2d-4 -> conv2d-4

    @property
    def in_channels(self) -> int:
        return self.resolved.in_shape[0]

    @property
    def groups(self) -> int:
        return self.resolved.layer.groups

    def describe(self) -> str:
        """`256x96 kernels 5x5`: out x in (per group) kernels of height x width."""
        out, per_group, kh, kw = self.weight.shape
        groups = f", groups={self.groups}" if self.groups > 1 else ""
        return f"{out}x{per_group} kernels {kh}x{kw}{groups}"


def conv_layers(ckpt: Checkpoint) -> list[ConvLayer]:
    """Every Conv2d of the checkpoint's model, in model order, with its weight from the state.

    Reads the state dict directly (no model is built): key `<module path>.weight`.
    """
    resolved = resolve(ckpt.spec, len(ckpt.labels))
    layers = []
    for r in resolved.layers:
        if r.layer.kind() != CONV_KIND:
            continue
        key = f"{r.path}.weight"
        weight = ckpt.model_state.get(key)
        if weight is None or weight.ndim != 4 or weight.shape[0] != r.out_shape[0]:
            raise CheckpointError(
                f"{ckpt.path}: the weights do not match the stored spec ({key} of {r.name} is "
                f"{'missing' if weight is None else tuple(weight.shape)})"
            )
        layers.append(ConvLayer(r, weight.detach().float().cpu()))
    return layers


def without_filters(ckpt: Checkpoint, distance: str | None = None) -> str | None:
    """The sentence that says which layers have no filter figure and why, or None if every
    layer that shapes what the model sees is a conv. Attention layers mix positions by what
    they hold, through projections of each position's features: no kernel lies over space.
    `distance`: what the attention-distance figure shows instead, or why there is none."""
    resolved = resolve(ckpt.spec, len(ckpt.labels))
    attention = [r.name for r in resolved.layers if type(r.layer).attends]
    if not attention:
        return None
    if len(attention) == 1:
        what = f"The attention layer {attention[0]} weighs positions by what they hold and has"
        it = "it has no filter figure (`archspec compare` measures it by CKA, from its"
    else:
        what = (
            f"The {len(attention)} attention layers ({layer_names(attention)}) weigh positions "
            "by what they hold and have"
        )
        it = "they have no filter figure (`archspec compare` measures them by CKA, from their"
    said = (
        f"Only conv layers have filters to draw. {what} no kernel over space, so {it} output "
        "averaged over positions)."
    )
    return said if distance is None else f"{said} {distance}"


def select_layers(layers: Sequence[ConvLayer], names: Sequence[str] | None) -> list[ConvLayer]:
    """The layers named (any letter case, e.g. `Conv2d-4` or `conv2d-4`), in model order.

    No names means all of them. An unknown name is a UserError listing the valid ones.
    """
    if not names:
        return list(layers)
    by_name = {layer.name.lower(): layer for layer in layers}
    unknown = [n for n in names if n.strip().lower() not in by_name]
    if unknown:
        valid = ", ".join(layer.name for layer in layers) or "none"
        raise UserError(
            f"no conv layer named {', '.join(repr(n) for n in unknown)}; "
            f"the conv layers of this model are: {valid}"
        )
    wanted = {n.strip().lower() for n in names}
    return [layer for layer in layers if layer.name.lower() in wanted]


def parse_layer_names(text: str | None) -> list[str] | None:
    """`Conv2d-1,Conv2d-4` -> ["Conv2d-1", "Conv2d-4"]; None or empty -> None (all layers)."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    return names or None
