"""Layer kinds a spec may use. Importing this package registers every kind."""

from archspec.layers import activation, conv, dropout, linear, normalization, padding, pooling
from archspec.layers.base import NUM_CLASSES, LayerSpec, Shape, ShapeError, format_shape
from archspec.layers.registry import LAYER_KINDS, list_layer_kinds, register_layer, suggest_kind

__all__ = [
    "LAYER_KINDS",
    "NUM_CLASSES",
    "LayerSpec",
    "Shape",
    "ShapeError",
    "activation",
    "conv",
    "dropout",
    "format_shape",
    "linear",
    "list_layer_kinds",
    "normalization",
    "padding",
    "pooling",
    "register_layer",
    "suggest_kind",
]
