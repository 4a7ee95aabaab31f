"""Convolution."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool
from torch import nn

from archspec.layers.base import (
    LayerSpec,
    NonNegativePair,
    PositiveInt,
    PositivePair,
    Shape,
    ShapeError,
    Size,
    format_shape,
    pair,
    sliding_output,
)
from archspec.layers.registry import register_layer


@register_layer
class Conv2d(LayerSpec):
    """2-D convolution over a (C, H, W) input."""

    torch_class = nn.Conv2d
    accepts = "spatial"
    in_size_field = "in_channels"
    example = {"out_channels": 6, "kernel_size": 3, "stride": 2, "padding": 1}

    in_channels: PositiveInt | None = Field(None, description="inferred; write it to check it")
    out_channels: Size
    kernel_size: PositivePair
    stride: PositivePair = 1
    padding: NonNegativePair | Literal["same", "valid"] = 0
    dilation: PositivePair = 1
    groups: PositiveInt = 1
    bias: StrictBool = True
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        channels, height, width = shape
        out_channels = self.bind(self.out_channels, num_classes)
        for size, what in ((channels, "input channels"), (out_channels, "out_channels")):
            if size % self.groups:
                raise ShapeError(
                    f"groups={self.groups} does not divide the {what} ({size})",
                    hint="choose groups that divides both the input and output channels",
                    field="groups",
                )
        kernel, stride, dilation = pair(self.kernel_size), pair(self.stride), pair(self.dilation)
        if self.padding == "same":
            if stride != (1, 1):
                raise ShapeError(
                    "padding: same needs stride 1", hint="set stride: 1", field="padding"
                )
            return (out_channels, height, width)
        padding = (0, 0) if self.padding == "valid" else pair(self.padding)
        out = []
        for axis, size in enumerate((height, width)):
            span = dilation[axis] * (kernel[axis] - 1) + 1
            padded = size + 2 * padding[axis]
            if span > padded:
                dilated = f" (dilated to {span})" if dilation[axis] > 1 else ""
                raise ShapeError(
                    f"the {kernel[axis]}-wide kernel{dilated} is larger than its padded input "
                    f"({padded} = {size} + 2x{padding[axis]}); the spatial size collapses to 0",
                    hint="use a smaller kernel, stride or dilation here or earlier, more padding, "
                    "or a larger input_shape",
                    field="kernel_size",
                )
            out.append(
                sliding_output(size, kernel[axis], stride[axis], padding[axis], dilation[axis])
            )
        if self.padding_mode != "zeros" and max(padding) > 0 and min(height, width) <= max(padding):
            raise ShapeError(
                f"padding_mode {self.padding_mode} needs an input larger than the padding "
                f"(input {format_shape(shape)}, padding {padding})",
                field="padding",
            )
        return (out_channels, *out)
