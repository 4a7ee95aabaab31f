"""Layers that change a tensor's layout without weights: permutes between a map with its
channels first and one with them last, and between tokens and channels; selecting one token."""

from __future__ import annotations

from pydantic import Field, StrictInt

from archspec.layers.base import (
    CHANNELS_BY_TOKENS,
    CHW,
    HWC,
    TOKENS,
    WINDOWS,
    LayerSpec,
    NonNegativeInt,
    PositiveInt,
    Shape,
    ShapeError,
    format_shape,
    laid,
    layout_of,
)
from archspec.layers.registry import register_layer

# The permutes the zoo uses, by the layout they apply to (dims count the batch as 0).
MOVES: dict[tuple[str, tuple[int, ...]], str] = {
    (CHW, (0, 2, 3, 1)): HWC,  # ConvNeXt's and Swin's channels-last blocks
    (HWC, (0, 3, 1, 2)): CHW,
    (CHANNELS_BY_TOKENS, (0, 2, 1)): TOKENS,  # ViT: a flattened map to a token sequence
    (TOKENS, (0, 2, 1)): CHANNELS_BY_TOKENS,
}


@register_layer
class Permute(LayerSpec):
    """Reorders the axes (torchvision.ops.Permute; dims count the batch as 0): [0, 2, 3, 1]
    puts a CxHxW map's channels last, [0, 3, 1, 2] puts them back first, and [0, 2, 1] turns
    DxN channels-by-tokens into NxD tokens, or back."""

    torch_class = "Permute"
    torch_module = "torchvision.ops"
    sets_layout = True
    example = {"dims": [0, 2, 3, 1]}

    dims: list[NonNegativeInt]

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        layout = layout_of(shape)
        target = MOVES.get((layout, tuple(self.dims)))
        if target is None:
            known = "; ".join(f"{list(d)} on {a}" for a, d in MOVES)
            raise ShapeError(
                f"Permute {self.dims} does not apply to {format_shape(shape)} ({layout})",
                hint=f"the permutes that keep the batch first: {known}",
                field="dims",
            )
        return laid([shape[d - 1] for d in self.dims[1:]], target)


@register_layer
class SelectToken(LayerSpec):
    """One token of a sequence, as a vector: x[:, index] (ViT's classifier reads the class
    token, index 0). torchvision does this in forward(); here it is a module without
    weights."""

    torch_class = "SelectToken"
    torch_module = "archspec.modules"
    accepts = "tokens"
    example = {"index": 0}

    index: StrictInt = Field(0, ge=0)

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        if self.index >= shape[0]:
            raise ShapeError(
                f"token {self.index} of a sequence of {shape[0]}",
                hint=f"index counts from 0, so at most {shape[0] - 1}",
                field="index",
            )
        return (shape[1],)


@register_layer
class WindowPartition(LayerSpec):
    """A CxHxW map cut into p x p windows: (H/p * W/p) windows of p*p positions of C channels,
    GxPxC (MaxViT's partition_op; torchvision's module, given p here rather than in forward)."""

    torch_class = "WindowPartition"
    torch_module = "archspec.modules"
    accepts = "spatial"
    example = {"p": 1}  # tiles any map

    p: PositiveInt

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        channels, height, width = shape
        if height % self.p or width % self.p:
            raise ShapeError(
                f"windows of {self.p}x{self.p} do not tile the {height}x{width} map",
                hint=f"make the map's height and width multiples of {self.p} (the input_shape)",
                field="p",
            )
        return laid(((height // self.p) * (width // self.p), self.p * self.p, channels), WINDOWS)


@register_layer
class WindowDepartition(LayerSpec):
    """Windows of p x p positions put back into a CxHxW map of h_partitions x w_partitions
    windows (MaxViT's departition_op; torchvision's module, given its sizes here)."""

    torch_class = "WindowDepartition"
    torch_module = "archspec.modules"
    accepts = "windows"
    example = {"p": 3, "h_partitions": 3, "w_partitions": 3}

    p: PositiveInt
    h_partitions: PositiveInt
    w_partitions: PositiveInt

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        windows, positions, channels = shape
        if (windows, positions) != (self.h_partitions * self.w_partitions, self.p * self.p):
            raise ShapeError(
                f"{windows} windows of {positions} positions are not {self.h_partitions}x"
                f"{self.w_partitions} windows of {self.p}x{self.p}",
                hint="give the p and partitions of the WindowPartition this undoes",
                field="p",
            )
        return (channels, self.h_partitions * self.p, self.w_partitions * self.p)


@register_layer
class SwapAxes(LayerSpec):
    """Swaps the windows and the positions of GxPxC windows (a = -2, b = -3): each grid cell's
    positions become a window (MaxViT's grid attention; torchvision's module)."""

    torch_class = "SwapAxes"
    torch_module = "torchvision.models.maxvit"
    accepts = "windows"
    example = {"a": -2, "b": -3}

    a: StrictInt
    b: StrictInt

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        if {self.a, self.b} != {-2, -3}:
            raise ShapeError(
                f"SwapAxes {self.a}, {self.b} on {format_shape(shape)}",
                hint="a: -2, b: -3 swaps the windows and their positions",
                field="a",
            )
        return laid((shape[1], shape[0], shape[2]), WINDOWS)
