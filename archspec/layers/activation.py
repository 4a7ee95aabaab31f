"""Element-wise activations; none changes the shape."""

from __future__ import annotations

from typing import Literal

from pydantic import StrictBool, StrictFloat

from archspec.layers.base import LayerSpec
from archspec.layers.registry import register_layer


@register_layer
class ReLU(LayerSpec):
    """max(0, x). The study's models use `inplace: true`."""

    torch_class = "ReLU"
    example = {"inplace": True}

    inplace: StrictBool = False


@register_layer
class LeakyReLU(LayerSpec):
    torch_class = "LeakyReLU"
    example = {"negative_slope": 0.2}

    negative_slope: StrictFloat = 0.01
    inplace: StrictBool = False


@register_layer
class GELU(LayerSpec):
    torch_class = "GELU"
    example = {"approximate": "tanh"}

    approximate: Literal["none", "tanh"] = "none"


@register_layer
class SiLU(LayerSpec):
    torch_class = "SiLU"

    inplace: StrictBool = False


@register_layer
class Tanh(LayerSpec):
    torch_class = "Tanh"


@register_layer
class Sigmoid(LayerSpec):
    torch_class = "Sigmoid"


@register_layer
class ReLU6(LayerSpec):
    """min(max(0, x), 6) (MobileNet v2)."""

    torch_class = "ReLU6"
    example = {"inplace": True}

    inplace: StrictBool = False


@register_layer
class Hardswish(LayerSpec):
    """x * ReLU6(x + 3) / 6 (MobileNet v3)."""

    torch_class = "Hardswish"
    example = {"inplace": True}

    inplace: StrictBool = False


@register_layer
class Hardsigmoid(LayerSpec):
    """ReLU6(x + 3) / 6: the gate of MobileNet v3's squeeze-and-excitation."""

    torch_class = "Hardsigmoid"
    example = {"inplace": True}

    inplace: StrictBool = False
