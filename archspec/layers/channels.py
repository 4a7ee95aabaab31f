"""Layers that rearrange channels without weights."""

from __future__ import annotations

from archspec.layers.base import LayerSpec, PositiveInt, Shape, ShapeError, format_shape
from archspec.layers.registry import register_layer


@register_layer
class ChannelShuffle(LayerSpec):
    """Interleaves the channels of `groups` groups (ShuffleNet): (g, C/g) -> (C/g, g)."""

    torch_class = "ChannelShuffle"
    accepts = "spatial"
    example = {"groups": 2}

    groups: PositiveInt

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        if shape[0] % self.groups:
            raise ShapeError(
                f"{format_shape(shape)} has {shape[0]} channels, which {self.groups} groups do "
                "not divide",
                hint=f"make the channels a multiple of {self.groups}, or change groups",
                field="groups",
            )
        return shape
