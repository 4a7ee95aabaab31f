"""Normalisation: batch norm over channels or features, and AlexNet's local response norm."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictFloat

from archspec.layers.base import INFERRED_SIZE, LayerSpec, PositiveInt, Shape, channels_of
from archspec.layers.registry import register_layer

PositiveFloat = Annotated[StrictFloat, Field(gt=0)]
Momentum = Annotated[StrictFloat, Field(ge=0, le=1)]


class _BatchNorm(LayerSpec):
    in_size_field = "num_features"
    weighted = True

    num_features: PositiveInt | None = Field(None, description=INFERRED_SIZE)
    eps: PositiveFloat = 1e-5
    momentum: Momentum | None = 0.1
    affine: StrictBool = True
    track_running_stats: StrictBool = True

    def param_count(self, shape: Shape, num_classes: int) -> int:
        return 2 * shape[0] if self.affine else 0


@register_layer
class BatchNorm2d(_BatchNorm):
    """Batch normalisation over the channels of a (C, H, W) input."""

    torch_class = "BatchNorm2d"
    accepts = "spatial"
    example = {"momentum": 0.2}


@register_layer
class BatchNorm1d(_BatchNorm):
    """Batch normalisation over the features of a flat (F,) input."""

    torch_class = "BatchNorm1d"
    accepts = "flat"
    example = {"affine": False}


class _LayerNorm(LayerSpec):
    in_size_field = "normalized_shape"
    weighted = True

    normalized_shape: PositiveInt | None = Field(None, description=INFERRED_SIZE)
    eps: PositiveFloat = 1e-5
    elementwise_affine: StrictBool = True
    bias: StrictBool = True

    def param_count(self, shape: Shape, num_classes: int) -> int:
        if not self.elementwise_affine:
            return 0
        return channels_of(shape) * (2 if self.bias else 1)


@register_layer
class LayerNorm(_LayerNorm):
    """Layer normalisation over the last axis: each token's features, or each position's
    channels of an HxWxC map (normalized_shape is that size, inferred)."""

    torch_class = "LayerNorm"
    accepts = "last"
    example = {"eps": 1e-6}


@register_layer
class LayerNorm2d(_LayerNorm):
    """Layer normalisation over the channels of a CxHxW map at each position
    (torchvision.models.convnext.LayerNorm2d: ConvNeXt's stem, downsampling and head)."""

    torch_class = "LayerNorm2d"
    torch_module = "torchvision.models.convnext"
    accepts = "spatial"
    example = {"eps": 1e-6}


@register_layer
class LocalResponseNorm(LayerSpec):
    """Normalisation across neighbouring channels, as in the original AlexNet (size 5, k 2)."""

    torch_class = "LocalResponseNorm"
    accepts = "spatial"
    example = {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0}

    size: PositiveInt
    alpha: StrictFloat = 1e-4
    beta: StrictFloat = 0.75
    k: StrictFloat = 1.0
