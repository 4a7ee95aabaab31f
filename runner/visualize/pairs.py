"""Side-by-side filter figures of two runs of one spec (for `archspec compare`)."""

from __future__ import annotations

from pathlib import Path

from runner.figures.figure import new_figure, save_figure
from runner.visualize.draw import draw_grid, draw_mosaic, grid_image, mosaic_image, panel_size
from runner.visualize.filters import FilterFigure, grid_caption, rgb_caption
from runner.visualize.grids import kernel_grid, rgb_mosaic
from runner.visualize.layers import ConvLayer


def plot_grid_pair(
    a: ConvLayer,
    b: ConvLayer,
    titles: tuple[str, str],
    title: str,
    out: Path,
    max_in: int,
    max_out: int,
) -> FilterFigure:
    """A's kernel grid left of B's, same cells, same layout as `archspec visualize`."""
    grids = [kernel_grid(layer.weight, max_in, max_out) for layer in (a, b)]
    images = [grid_image(g) for g in grids]
    width, height = panel_size(images[0], grids[0].shape[1])
    fig = new_figure(2 * width, height)
    for ax, grid, image, panel in zip(fig.subplots(1, 2), grids, images, titles, strict=True):
        draw_grid(ax, grid, image)
        ax.set_title(panel, fontsize=10)
    fig.suptitle(f"{title}: {grid_caption(a, max_in, max_out)}", fontsize=11)
    return FilterFigure(a.name, "grid", save_figure(fig, out), tuple(grids[0].shape[:2]))


def plot_rgb_pair(
    a: ConvLayer, b: ConvLayer, titles: tuple[str, str], title: str, out: Path
) -> FilterFigure:
    """A's first-layer filters as colour patches left of B's."""
    mosaics = [rgb_mosaic(layer.weight) for layer in (a, b)]
    images = [mosaic_image(m) for m in mosaics]
    width, height = panel_size(images[0], mosaics[0].shape[1])
    fig = new_figure(2 * width, height)
    for ax, mosaic, image, panel in zip(fig.subplots(1, 2), mosaics, images, titles, strict=True):
        draw_mosaic(ax, mosaic, len(a.weight), image)
        ax.set_title(panel, fontsize=10)
    fig.suptitle(f"{title}: {rgb_caption(a)}", fontsize=11)
    return FilterFigure(a.name, "rgb", save_figure(fig, out), tuple(mosaics[0].shape[:2]))
