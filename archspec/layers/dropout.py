"""Dropout of single values, or of whole channels."""

from __future__ import annotations

from typing import Annotated

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
