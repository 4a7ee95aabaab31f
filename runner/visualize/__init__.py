"""Figures of what a run learned: its conv filters, per layer, from a checkpoint.

Every figure is a small PNG (100 dpi) written atomically, drawn with matplotlib's Agg backend.
"""

from runner.visualize.filters import (
    FilterFigure,
    VisualizeResult,
    default_filters_dir,
    visualize_checkpoint,
    visualize_run,
)
from runner.visualize.grids import kernel_grid, rgb_mosaic
from runner.visualize.layers import ConvLayer, conv_layers, parse_layer_names, select_layers

__all__ = [
    "ConvLayer",
    "FilterFigure",
    "VisualizeResult",
    "conv_layers",
    "default_filters_dir",
    "kernel_grid",
    "parse_layer_names",
    "rgb_mosaic",
    "select_layers",
    "visualize_checkpoint",
    "visualize_run",
]
