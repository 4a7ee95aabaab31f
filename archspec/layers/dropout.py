"""Dropout of single values, or of whole channels."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictFloat

from archspec.layers.base import LayerSpec
from archspec.layers.registry import register_layer

Probability = Annotated[StrictFloat, Field(ge=0, le=1, description="a probability in [0, 1]")]


@register_layer
class Dropout(LayerSpec):
    """Zeroes each value with probability p while training."""

    torch_class = "Dropout"
    example = {"p": 0.25}

    p: Probability = 0.5
    inplace: StrictBool = False


@register_layer
class Dropout2d(LayerSpec):
    """Zeroes whole channels of a (C, H, W) input with probability p while training."""

    torch_class = "Dropout2d"
    accepts = "spatial"
    example = {"p": 0.1}

    p: Probability = 0.5
    inplace: StrictBool = False


@register_layer
class StochasticDepth(LayerSpec):
    """Drops a residual branch while training (Huang et al., 2016): with probability p, a
    sample's ("row") or the whole batch's ("batch") output is zero, the rest scaled by 1/(1-p).
    torchvision.ops.StochasticDepth, as EfficientNet and ConvNeXt use it."""

    torch_class = "StochasticDepth"
    torch_module = "torchvision.ops"
    example = {"p": 0.1, "mode": "row"}

    p: Probability
    mode: Literal["row", "batch"]
