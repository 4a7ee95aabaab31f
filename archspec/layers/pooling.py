"""Pooling: sliding-window max and average, and adaptive pooling to a fixed output size."""

from __future__ import annotations

from pydantic import Field, StrictBool

from archspec.layers.base import (
    LayerSpec,
    NonNegativePair,
    PositiveInt,
    PositivePair,
    Shape,
    ShapeError,
    pair,
    sliding_output,
)
from archspec.layers.registry import register_layer

# PositivePair's own description is lost in `PositivePair | None`; messages read it after "must be".
STRIDE_OR_KERNEL = "a positive integer, or a pair [height, width] (default: the kernel size)"


def _pooled_shape(
    shape: Shape,
    kernel_size: PositivePair,
    stride: PositivePair | None,
    padding: NonNegativePair,
    dilation: PositivePair,
    ceil_mode: bool,
) -> Shape:
    channels, height, width = shape
    kernel, dilation_ = pair(kernel_size), pair(dilation)
    stride_ = kernel if stride is None else pair(stride)  # PyTorch: stride defaults to the kernel
    padding_ = pair(padding)
    out = []
    for axis, size in enumerate((height, width)):
        if padding_[axis] > kernel[axis] // 2:  # PyTorch compares with the undilated kernel
            raise ShapeError(
                f"padding {padding_[axis]} is more than half the kernel size ({kernel[axis]})",
                hint="PyTorch allows at most half the kernel size as padding; reduce it",
                field="padding",
            )
        length = sliding_output(
            size, kernel[axis], stride_[axis], padding_[axis], dilation_[axis], ceil_mode
        )
        if length < 1:  # with ceil_mode a window may overhang the input, so test the length
            span = dilation_[axis] * (kernel[axis] - 1) + 1
            dilated = f" (dilated to {span})" if dilation_[axis] > 1 else ""
            raise ShapeError(
                f"the {kernel[axis]}-wide window{dilated} is larger than its padded input "
                f"({size + 2 * padding_[axis]}); the spatial size collapses to 0",
                hint="remove this pooling layer, shrink its kernel, or downsample less before it",
                field="kernel_size",
            )
        out.append(length)
    return (channels, *out)


@register_layer
class MaxPool2d(LayerSpec):
    """Max pooling over a sliding window."""

    torch_class = "MaxPool2d"
    accepts = "spatial"
    example = {"kernel_size": 3, "stride": 2, "ceil_mode": True}

    kernel_size: PositivePair
    stride: PositivePair | None = Field(None, description=STRIDE_OR_KERNEL)
    padding: NonNegativePair = 0
    dilation: PositivePair = 1
    ceil_mode: StrictBool = False

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        return _pooled_shape(
            shape, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode
        )

    def window(self, shape: Shape):
        kernel = pair(self.kernel_size)
        return kernel, kernel if self.stride is None else pair(self.stride), pair(self.dilation)


@register_layer
class AvgPool2d(LayerSpec):
    """Average pooling over a sliding window."""

    torch_class = "AvgPool2d"
    accepts = "spatial"
    example = {"kernel_size": 2, "padding": 1, "count_include_pad": False}

    kernel_size: PositivePair
    stride: PositivePair | None = Field(None, description=STRIDE_OR_KERNEL)
    padding: NonNegativePair = 0
    ceil_mode: StrictBool = False
    count_include_pad: StrictBool = True
    divisor_override: PositiveInt | None = None

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        return _pooled_shape(shape, self.kernel_size, self.stride, self.padding, 1, self.ceil_mode)

    def window(self, shape: Shape):
        kernel = pair(self.kernel_size)
        return kernel, kernel if self.stride is None else pair(self.stride), (1, 1)


class _AdaptivePool(LayerSpec):
    accepts = "spatial"
    example = {"output_size": [3, 2]}

    output_size: PositivePair

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        return (shape[0], *pair(self.output_size))

    def window(self, shape: Shape):
        """The widest window adaptive pooling uses, and its typical step."""
        sizes = list(zip(shape[1:], pair(self.output_size), strict=True))
        kernel = tuple(-(-size // out) + (1 if size % out else 0) for size, out in sizes)
        stride = tuple(max(size // out, 1) for size, out in sizes)
        return kernel, stride, (1, 1)


@register_layer
class AdaptiveAvgPool2d(_AdaptivePool):
    """Average pooling to a fixed output size, whatever the input size (torchvision's AlexNet)."""

    torch_class = "AdaptiveAvgPool2d"


@register_layer
class AdaptiveMaxPool2d(_AdaptivePool):
    """Max pooling to a fixed output size, whatever the input size."""

    torch_class = "AdaptiveMaxPool2d"
