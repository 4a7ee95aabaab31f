"""Convolution."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool

from archspec.layers.base import (
    INFERRED_SIZE,
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

    torch_class = "Conv2d"
    accepts = "spatial"
    in_size_field = "in_channels"
    weighted = True
    example = {"out_channels": 6, "kernel_size": 3, "stride": 2, "padding": 1}

    in_channels: PositiveInt | None = Field(None, description=INFERRED_SIZE)
    out_channels: Size
    kernel_size: PositivePair
    stride: PositivePair = 1
    padding: NonNegativePair | Literal["same", "valid"] = Field(
        0, description="a non-negative integer, a pair [height, width], or same or valid"
    )
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
            # PyTorch pads dilation * (kernel - 1) along each axis, the larger half after.
            totals = [d * (k - 1) for d, k in zip(dilation, kernel, strict=True)]
            self._check_padding_mode(shape, tuple(t - t // 2 for t in totals))
            return (out_channels, height, width)
        padding = (0, 0) if self.padding == "valid" else pair(self.padding)
        self._check_padding_mode(shape, padding)
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
        return (out_channels, *out)

    def param_count(self, shape: Shape, num_classes: int) -> int:
        out_channels = self.bind(self.out_channels, num_classes)
        kh, kw = pair(self.kernel_size)
        return out_channels * (shape[0] // self.groups) * kh * kw + (
            out_channels if self.bias else 0
        )

    def mult_adds(self, shape: Shape, out: Shape, num_classes: int) -> int:
        return self.param_count(shape, num_classes) * out[1] * out[2]

    def window(self, shape: Shape):
        return pair(self.kernel_size), pair(self.stride), pair(self.dilation)

    def _check_padding_mode(self, shape: Shape, padding: tuple[int, int]) -> None:
        """Reflect padding must be smaller than the input; circular may wrap around only once."""
        too_much = {
            "reflect": lambda pad, size: pad >= size,
            "circular": lambda pad, size: pad > size,
        }.get(self.padding_mode)
        if too_much is None:  # zeros and replicate pad any input by any amount
            return
        for pad, size in zip(padding, shape[1:], strict=True):
            if too_much(pad, size):
                limit = "smaller than" if self.padding_mode == "reflect" else "at most"
                raise ShapeError(
                    f"padding_mode {self.padding_mode} needs padding {limit} the input size "
                    f"(input {format_shape(shape)}, padding {pad} along an axis of {size})",
                    hint="use less padding or a larger input, or padding_mode zeros or replicate",
                    field="padding",
                )
