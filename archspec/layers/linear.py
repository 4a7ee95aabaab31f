"""Fully connected layers, flattening, and the identity."""

from __future__ import annotations

import math

from pydantic import Field, StrictBool

from archspec.layers.base import INFERRED_SIZE, LayerSpec, PositiveInt, Shape, Size
from archspec.layers.registry import register_layer


@register_layer
class Linear(LayerSpec):
    """A fully connected layer over a flat (F,) input."""

    torch_class = "Linear"
    accepts = "flat"
    in_size_field = "in_features"
    weighted = True
    example = {"out_features": 5}

    in_features: PositiveInt | None = Field(None, description=INFERRED_SIZE)
    out_features: Size
    bias: StrictBool = True

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        return (self.bind(self.out_features, num_classes),)

    def param_count(self, shape: Shape, num_classes: int) -> int:
        out = self.bind(self.out_features, num_classes)
        return shape[0] * out + (out if self.bias else 0)


@register_layer
class Flatten(LayerSpec):
    """(C, H, W) -> (C*H*W,). Rarely needed: the model flattens between sections by itself."""

    torch_class = "Flatten"

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        return (math.prod(shape),)


@register_layer
class Identity(LayerSpec):
    """Passes its input through unchanged (a placeholder when switching a layer off)."""

    torch_class = "Identity"
