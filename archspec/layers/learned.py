"""Learnable tensors that belong to the module holding them, not to a module of their own: the
class token and the position embedding of a vision transformer, ConvNeXt's layer scale.

torchvision registers these as parameters of the block (`class_token`, `pos_embedding`,
`layer_scale`), so their state_dict keys have no module level. A layer of one of these kinds
is compiled the same way: a parameter of its parent under the layer's name, applied where the
layer stands (archspec.modules.APPLY)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictFloat

from archspec.layers.base import (
    CHW,
    INFERRED_SIZE,
    LayerSpec,
    PositiveInt,
    Shape,
    channels_of,
    layout_of,
)
from archspec.layers.registry import register_layer


class _Learned(LayerSpec):
    torch_module = "archspec.modules"
    parameter = True
    weighted = True

    def mult_adds(self, shape: Shape, out: Shape, num_classes: int) -> int:
        return 0  # a copy or an element-wise operation, as torchinfo counts them


@register_layer
class ClassToken(_Learned):
    """A learnable token put before the sequence: NxD -> (N+1)xD (ViT's class_token, zeros
    at first, shape 1x1xD)."""

    torch_class = "class_token"
    accepts = "tokens"
    in_size_field = "embed_dim"

    embed_dim: PositiveInt | None = Field(None, description=INFERRED_SIZE)

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        return (shape[0] + 1, shape[1])

    def param_count(self, shape: Shape, num_classes: int) -> int:
        return shape[1]


@register_layer
class PositionEmbedding(_Learned):
    """A learnable tensor added to the tokens, one vector per position (ViT's pos_embedding,
    shape 1xNxD, drawn from N(0, std^2) at first)."""

    torch_class = "position_embedding"
    accepts = "tokens"
    example = {"std": 0.02}

    std: StrictFloat = Field(0.02, gt=0)

    def torch_kwargs(self, shape: Shape, num_classes: int) -> dict[str, Any]:
        return {"num_tokens": shape[0], "embed_dim": shape[1], "std": self.std}

    def param_count(self, shape: Shape, num_classes: int) -> int:
        return shape[0] * shape[1]


@register_layer
class LayerScale(_Learned):
    """A learnable scale per channel, multiplied with the input (ConvNeXt's layer_scale, every
    value `init` at first; shape Cx1x1 on a CxHxW map, C otherwise)."""

    torch_class = "layer_scale"
    example = {"init": 1e-6}

    init: StrictFloat

    def torch_kwargs(self, shape: Shape, num_classes: int) -> dict[str, Any]:
        channels = channels_of(shape)
        size = (channels, 1, 1) if layout_of(shape) == CHW else (channels,)
        return {"shape": size, "init": self.init}

    def param_count(self, shape: Shape, num_classes: int) -> int:
        return channels_of(shape)
