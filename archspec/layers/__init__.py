"""Layer kinds a spec may use. Importing this package registers every kind, installed plugins'
kinds included."""

from archspec.layers import (
    activation,
    attention,
    channels,
    conv,
    dropout,
    layout,
    learned,
    linear,
    normalization,
    padding,
    pooling,
)
from archspec.layers.base import NUM_CLASSES, LayerSpec, Shape, ShapeError, format_shape
from archspec.layers.registry import (
    KIND_ORIGINS,
    LAYER_KINDS,
    list_layer_kinds,
    load_plugin_kinds,
    register_layer,
    suggest_kind,
)

load_plugin_kinds()  # after the built-in kinds, so that a plugin cannot take their names

__all__ = [
    "KIND_ORIGINS",
    "LAYER_KINDS",
    "NUM_CLASSES",
    "LayerSpec",
    "Shape",
    "ShapeError",
    "activation",
    "attention",
    "channels",
    "conv",
    "dropout",
    "format_shape",
    "layout",
    "learned",
    "linear",
    "list_layer_kinds",
    "normalization",
    "padding",
    "pooling",
    "register_layer",
    "suggest_kind",
]
