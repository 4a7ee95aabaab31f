"""What every layer kind is: a small Pydantic schema that knows its shapes and builds its module.

A kind's schema uses PyTorch's own class and keyword names. Sizes that follow from the input
(`in_channels`, `in_features`, `num_features`) are inferred; a kind names that field in
`in_size_field`, and a spec may still write it, in which case it is checked.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

# Per-sample shapes, without the batch dimension. A plain tuple has its rank's usual layout:
# (C, H, W) for images, (N, D) for a sequence of N tokens of D features, (F,) for vectors. The
# two other layouts the zoo needs carry their name (see Laid): a map with its channels last
# (H, W, C), as ConvNeXt's and Swin's LayerNorm and Linear layers run on it, and tokens still
# channels-first (D, N), as flattening a CxHxW map from dim 2 gives them.
Shape = tuple[int, ...]

CHW, HWC, TOKENS, CHANNELS_BY_TOKENS, FLAT = "CxHxW", "HxWxC", "NxD", "DxN", "F"
# MaxViT's partitions: G windows (or grid cells) of P positions of C channels each.
WINDOWS = "GxPxC"
_USUAL_LAYOUT = {3: CHW, 2: TOKENS, 1: FLAT}
# Where each layout keeps its channels (or features) and its height and width.
CHANNEL_AXIS = {CHW: 0, HWC: 2, TOKENS: 1, CHANNELS_BY_TOKENS: 0, FLAT: 0, WINDOWS: 2}
SPATIAL_AXES = {CHW: (1, 2), HWC: (0, 1)}
TOKEN_AXIS = {TOKENS: 0, CHANNELS_BY_TOKENS: 1}


class Laid(tuple):
    """Sizes in a layout other than their rank's usual one. Equal only to sizes in the same
    layout: a 7x7x96 HxWxC map is not a 7x7x96 CxHxW one, so a residual cannot add the two."""

    layout: ClassVar[str]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__eq__(self, other) and layout_of(other) == self.layout

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((self.layout, tuple(self)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({tuple.__repr__(self)})"


class ChannelsLast(Laid):
    layout = HWC


class ChannelsByTokens(Laid):
    layout = CHANNELS_BY_TOKENS


class Windows(Laid):
    layout = WINDOWS


_LAID = {HWC: ChannelsLast, CHANNELS_BY_TOKENS: ChannelsByTokens, WINDOWS: Windows}


def layout_of(shape: object) -> str:
    """The layout of `shape`: its own, or its rank's usual one ("" for other ranks)."""
    if isinstance(shape, Laid):
        return shape.layout
    return _USUAL_LAYOUT.get(len(shape), "") if isinstance(shape, tuple) else ""


def laid(sizes: tuple[int, ...] | list[int], layout: str) -> Shape:
    """`sizes` in `layout`: a plain tuple where that is their rank's usual layout."""
    sizes = tuple(sizes)
    if _USUAL_LAYOUT.get(len(sizes)) == layout:
        return sizes
    return _LAID[layout](sizes)


def channels_of(shape: Shape) -> int:
    """The channels of a map, the features of a token or a vector, in any layout."""
    return shape[CHANNEL_AXIS.get(layout_of(shape), 0)]


def with_channels(shape: Shape, channels: int) -> Shape:
    """`shape` with its channel (or feature) axis set to `channels`, in the same layout."""
    sizes = list(shape)
    sizes[CHANNEL_AXIS.get(layout_of(shape), 0)] = channels
    return laid(sizes, layout_of(shape))


PositiveInt = Annotated[StrictInt, Field(gt=0)]
NonNegativeInt = Annotated[StrictInt, Field(ge=0)]
PositivePair = Annotated[
    PositiveInt | tuple[PositiveInt, PositiveInt],
    Field(description="a positive integer, or a pair [height, width]"),
]
NonNegativePair = Annotated[
    NonNegativeInt | tuple[NonNegativeInt, NonNegativeInt],
    Field(description="a non-negative integer, or a pair [height, width]"),
]
# A layer's output size; the symbol `num_classes` is bound by the task when the model is built.
Size = Annotated[
    PositiveInt | Literal["num_classes"],
    Field(description="a positive integer, or num_classes (bound by --task or --num-classes)"),
]
NUM_CLASSES = "num_classes"
# The description of an in-size field; error messages read it after "must be".
INFERRED_SIZE = "a positive integer, inferred from the input (write it only to have it checked)"


class ShapeError(ValueError):
    """A layer cannot take the shape it is given; `field` names the culprit if one does."""

    def __init__(self, message: str, hint: str = "", field: str | None = None):
        super().__init__(message)
        self.hint = hint
        self.field = field


def pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)  # type: ignore[return-value]


def format_shape(shape: Shape) -> str:
    """`3x224x224`; a layout other than CxHxW and flat is named: `56x56x96 (HxWxC)`."""
    text = "x".join(str(s) for s in shape)
    layout = layout_of(shape)
    return f"{text} ({layout})" if layout not in (CHW, FLAT, "") else text


def sliding_output(
    size: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil_mode: bool = False
) -> int:
    """Output length of a convolution or pooling window along one axis (PyTorch's formula)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    # With ceil_mode, the last window must start inside the input or its left padding.
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


class LayerSpec(BaseModel):
    """Base of every layer kind. Subclasses are registered with `@register_layer`."""

    # defer_build: a kind's validator is built the first time a spec uses it, not at import
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    # The torch.nn class this kind builds, by name: checking a spec never imports torch.
    torch_class: ClassVar[str]
    # The module that holds it: torch.nn, or torchvision.ops for StochasticDepth.
    torch_module: ClassVar[str] = "torch.nn"
    # Whether the module holds tensors (weights or buffers): one without may be used twice.
    weighted: ClassVar[bool] = False
    # What input the layer needs: "spatial" (C, H, W), "flat" (F,), "last" (features on the
    # last axis: HxWxC, NxD tokens, GxPxC windows or F), "channels_last" (H, W, C), "tokens"
    # (N, D), "windows" (G, P, C), or "any".
    accepts: ClassVar[
        Literal["spatial", "flat", "last", "channels_last", "tokens", "windows", "any"]
    ] = "any"
    # A kind that is a learnable tensor of its owner's, not a module (ViT's class_token): the
    # compiler registers it as a parameter under the layer's name and applies it (modules.py).
    parameter: ClassVar[bool] = False
    # A fully connected kind: a section that starts with it gets a CxHxW map flattened first.
    flattens_maps: ClassVar[bool] = False
    # A kind that changes the layout itself (Permute, Flatten): a section starting with it is
    # not flattened first.
    sets_layout: ClassVar[bool] = False
    # An attention kind: CKA compares its output, averaged over the positions, beside the convs'.
    attends: ClassVar[bool] = False
    # The keyword that takes the inferred input size, if the module has one.
    in_size_field: ClassVar[str | None] = None
    # Keyword arguments a test builds this kind with (tests run every registered kind).
    example: ClassVar[dict[str, Any]] = {}

    @classmethod
    def kind(cls) -> str:
        return cls.__name__

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        """The shape this layer produces from `shape`; raise ShapeError if it cannot take it."""
        return shape

    def torch_kwargs(self, shape: Shape, num_classes: int) -> dict[str, Any]:
        """The keyword arguments of the PyTorch module: what the spec wrote, sizes filled in.

        Only fields the spec set are passed, so PyTorch's own defaults apply and the module
        prints exactly as a hand-written one would.
        """
        kwargs = {
            name: num_classes if value == NUM_CLASSES else value
            for name, value in self.model_dump(exclude_unset=True).items()
        }
        if self.in_size_field is not None:
            kwargs[self.in_size_field] = self.in_size(shape)
        return kwargs

    def in_size(self, shape: Shape) -> int:
        """The inferred in-size: the channels, or the features of each token or position."""
        return channels_of(shape)

    def build(self, shape: Shape, num_classes: int) -> Any:
        """The torch.nn module (the only method that imports torch)."""
        return self.torch_type()(**self.torch_kwargs(shape, num_classes))

    @classmethod
    def torch_type(cls) -> Any:
        """The PyTorch class itself (imports torch, or torchvision)."""
        import importlib

        return getattr(importlib.import_module(cls.torch_module), cls.torch_class)

    @property
    def weightless(self) -> bool:
        return not self.weighted

    def param_count(self, shape: Shape, num_classes: int) -> int:
        """Learnable parameters of the module for input `shape` (from the shapes alone)."""
        return 0

    def mult_adds(self, shape: Shape, out: Shape, num_classes: int) -> int:
        """Multiply-adds per image, counted as torchinfo does: one per weight use."""
        return self.param_count(shape, num_classes)

    def window(
        self, shape: Shape
    ) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]] | None:
        """(kernel, stride, dilation) of a sliding window, for receptive fields; None when the
        layer works value by value."""
        return None

    def to_data(self) -> dict[str, Any] | str:
        """The layer as it is written in a spec: `{Kind: {field: value}}`, or `Kind` alone."""
        fields = self.model_dump(mode="json", exclude_unset=True)
        return {self.kind(): fields} if fields else self.kind()

    def bind(self, value: int | str, num_classes: int) -> int:
        return num_classes if value == NUM_CLASSES else int(value)
