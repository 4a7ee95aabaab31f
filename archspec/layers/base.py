"""What every layer kind is: a small Pydantic schema that knows its shapes and builds its module.

A kind's schema uses PyTorch's own class and keyword names. Sizes that follow from the input
(`in_channels`, `in_features`, `num_features`) are inferred; a kind names that field in
`in_size_field`, and a spec may still write it, in which case it is checked.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

# Per-sample shapes, without the batch dimension: (C, H, W) for images, (F,) for vectors.
Shape = tuple[int, ...]

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
    return "x".join(str(s) for s in shape)


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
    # What input the layer needs: "spatial" (C, H, W), "flat" (F,), or "any" shape.
    accepts: ClassVar[Literal["spatial", "flat", "any"]] = "any"
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
            kwargs[self.in_size_field] = shape[0]
        return kwargs

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
