"""Figures of runs: learned filters per conv layer, learning curves, confusion matrices.

Every figure is a small PNG (100 dpi) written atomically, drawn with matplotlib's Agg backend.
"""

from runner.visualize.confusion import confusion_matrix, plot_confusion
from runner.visualize.curves import plot_curves, read_metrics
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
    "confusion_matrix",
    "conv_layers",
    "default_filters_dir",
    "kernel_grid",
    "parse_layer_names",
    "plot_confusion",
    "plot_curves",
    "read_metrics",
    "rgb_mosaic",
    "select_layers",
    "visualize_checkpoint",
    "visualize_run",
]
