"""Fully connected layers, flattening, and the identity."""

from __future__ import annotations

import math

from pydantic import Field, StrictBool, StrictInt

from archspec.layers.base import (
    CHANNELS_BY_TOKENS,
    CHW,
    INFERRED_SIZE,
    LayerSpec,
    PositiveInt,
    Shape,
    ShapeError,
    Size,
    channels_of,
    format_shape,
    laid,
    layout_of,
    with_channels,
)
from archspec.layers.registry import register_layer


@register_layer
class Linear(LayerSpec):
    """A fully connected layer over the last axis: a flat (F,) input, each token of an NxD
    sequence, or each position of an HxWxC map (ConvNeXt's pointwise layers)."""

    torch_class = "Linear"
    accepts = "last"
    flattens_maps = True
    in_size_field = "in_features"
    weighted = True
    example = {"out_features": 5}

    in_features: PositiveInt | None = Field(None, description=INFERRED_SIZE)
    out_features: Size
    bias: StrictBool = True

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        return with_channels(shape, self.bind(self.out_features, num_classes))

    def param_count(self, shape: Shape, num_classes: int) -> int:
        out = self.bind(self.out_features, num_classes)
        return channels_of(shape) * out + (out if self.bias else 0)

    def mult_adds(self, shape: Shape, out: Shape, num_classes: int) -> int:
        # once per token or position (torchinfo counts it once per sample, whatever its rank)
        return self.param_count(shape, num_classes) * (math.prod(shape) // channels_of(shape))


@register_layer
class Flatten(LayerSpec):
    """(C, H, W) -> (C*H*W,). Rarely needed: the model flattens between sections by itself.
    With start_dim 2, a CxHxW map becomes C x (H*W) channels by tokens (ViT's patches)."""

    torch_class = "Flatten"
    sets_layout = True
    example = {"start_dim": 2}

    start_dim: StrictInt = Field(1, ge=1, le=2)

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        if self.start_dim == 1:
            return (math.prod(shape),)
        if layout_of(shape) != CHW:
            raise ShapeError(
                f"start_dim 2 flattens the height and width of a CxHxW map, and the input is "
                f"{format_shape(shape)}",
                hint="flatten a map with its channels first, or use start_dim 1",
                field="start_dim",
            )
        return laid((shape[0], shape[1] * shape[2]), CHANNELS_BY_TOKENS)


@register_layer
class Identity(LayerSpec):
    """Passes its input through unchanged (a placeholder when switching a layer off)."""

    torch_class = "Identity"
