"""Explicit zero padding."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from archspec.layers.base import LayerSpec, NonNegativeInt, Shape, pair
from archspec.layers.registry import register_layer


@register_layer
class ZeroPad2d(LayerSpec):
    """Pads with zeros: one size for every side, or [left, right, top, bottom]."""

    torch_class = "ZeroPad2d"
    accepts = "spatial"
    example = {"padding": [1, 2, 0, 3]}

    padding: Annotated[
        NonNegativeInt | tuple[NonNegativeInt, NonNegativeInt, NonNegativeInt, NonNegativeInt],
        Field(description="a non-negative integer, or [left, right, top, bottom]"),
    ]

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        channels, height, width = shape
        left, right, top, bottom = (
            (*pair(self.padding), *pair(self.padding))
            if isinstance(self.padding, int)
            else self.padding
        )
        return (channels, height + top + bottom, width + left + right)
