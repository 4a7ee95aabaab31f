"""Layers that change a tensor's layout without weights: permutes between a map with its
channels first and one with them last, and between tokens and channels; selecting one token."""

from __future__ import annotations

from pydantic import Field, StrictInt

from archspec.layers.base import (
    CHANNELS_BY_TOKENS,
    CHW,
    HWC,
    TOKENS,
    LayerSpec,
    NonNegativeInt,
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
