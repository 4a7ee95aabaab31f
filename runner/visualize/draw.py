"""Drawing kernel grids and RGB mosaics onto axes, and sizing figures to fit them."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.axes import Axes

from runner.figures.figure import GAP_COLOR, bare
from runner.visualize.grids import tile, tile_pad

CELL_INCHES = 0.62  # one kernel cell; a 12-wide grid is about 7.5 inches (750 px at 100 dpi)
MIN_WIDTH, MAX_WIDTH = 5.0, 8.5  # inches; wide enough for the title, small enough for a page
TITLE_INCHES = 1.0  # title and axis labels above and below the image


def grid_image(grid: torch.Tensor) -> np.ndarray:
    """(rows, cols, kh, kw) in [0, 1] -> one image with NaN gaps between the kernels."""
    return tile(grid, pad=tile_pad(grid.shape[2]))


def mosaic_image(mosaic: torch.Tensor) -> np.ndarray:
    """(rows, cols, kh, kw, 3) -> RGBA image; gaps and empty cells transparent."""
    rgb = tile(mosaic, pad=tile_pad(mosaic.shape[2]))
    alpha = ~np.isnan(rgb).any(axis=-1, keepdims=True)
    return np.concatenate([np.nan_to_num(rgb, nan=1.0), alpha.astype(float)], axis=-1)


def panel_size(image: np.ndarray, cols: int) -> tuple[float, float]:
    """(width, height) in inches for one panel showing `image` of `cols` cells across."""
    width = min(max(cols * CELL_INCHES, MIN_WIDTH), MAX_WIDTH)
    height = width * image.shape[0] / image.shape[1]
    return width, height + TITLE_INCHES


def draw_grid(ax: Axes, grid: torch.Tensor, image: np.ndarray | None = None) -> None:
    """Grey kernels, rows = input channels, columns = output channels; gaps in GAP_COLOR."""
    cmap = colormaps["gray"].with_extremes(bad=GAP_COLOR)
    ax.imshow(
        grid_image(grid) if image is None else image,
        cmap=cmap,
        vmin=0.0,
        vmax=1.0,
        interpolation="nearest",
    )
    rows, cols = grid.shape[:2]
    ax.set_xlabel(f"output channels 1-{cols}")
    ax.set_ylabel(f"input channels 1-{rows}")
    bare(ax)


def draw_mosaic(ax: Axes, mosaic: torch.Tensor, count: int, image: np.ndarray | None = None):
    """Colour patches, one per filter, row by row; `count` filters."""
    ax.imshow(mosaic_image(mosaic) if image is None else image, interpolation="nearest")
    ax.set_xlabel(f"filters 1-{count}, row by row")
    bare(ax)
    for spine in ax.spines.values():
        spine.set_visible(False)
