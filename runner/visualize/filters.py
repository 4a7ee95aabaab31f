"""`archspec visualize`: the learned filters of every conv layer of a run, one PNG per layer.

For a run directory it reads `best.pt` (the epoch with the best validation accuracy) and writes
into `RUN/filters/`; for a checkpoint file it writes beside it (`filters/` for best.pt,
`filters-<stem>/` for any other file). It also redraws `RUN/curves.png` from `RUN/metrics.csv`,
and for a ViT draws how far its attention heads look (attention_figure.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from archspec.errors import UserError
from archspec.text import plural
from runner.figures.curves import METRICS_FILE, plot_curves
from runner.figures.figure import new_figure, save_figure
from runner.training.checkpoint import Checkpoint, find_checkpoint, load_checkpoint
from runner.visualize.draw import draw_grid, draw_mosaic, grid_image, mosaic_image, panel_size
from runner.visualize.grids import kernel_grid, rgb_mosaic
from runner.visualize.layers import ConvLayer, conv_layers, select_layers, without_filters

DEFAULT_MAX = 12  # 12 x 12 kernels per layer: readable at 100 dpi
CURVES_FILE = "curves.png"


@dataclass(frozen=True)
class FilterFigure:
    """One PNG written: a layer's kernel grid, or the first layer's RGB mosaic."""

    layer: str  # Conv2d-4
    kind: str  # "grid" or "rgb"
    path: Path
    grid: tuple[int, int]  # (rows, cols) of cells: input x output channels, or the mosaic's


def figure_title(ckpt: Checkpoint) -> str:
    return f"{ckpt.spec.name}, {ckpt.task} task"


def grid_caption(layer: ConvLayer, max_in: int, max_out: int) -> str:
    """`Conv2d-4 (256x96 kernels 5x5; showing 12x12)`: out x in, then what is shown."""
    out, per_group = layer.weight.shape[:2]
    shown = f"{min(out, max_out)}x{min(per_group, max_in)}"
    return f"{layer.name} ({layer.describe()}; showing {shown})"


def is_rgb_layer(layer: ConvLayer) -> bool:
    """An RGB view makes sense for a conv reading the 3 colour channels, ungrouped."""
    return layer.in_channels == 3 and layer.groups == 1


def rgb_caption(layer: ConvLayer) -> str:
    out, _, kh, kw = layer.weight.shape
    return f"{layer.name} as RGB ({plural(out, 'filter')} {kh}x{kw}, all shown)"


def plot_layer_grid(
    layer: ConvLayer, title: str, out: Path, max_in: int, max_out: int
) -> FilterFigure:
    grid = kernel_grid(layer.weight, max_in, max_out)
    image = grid_image(grid)
    fig = new_figure(*panel_size(image, grid.shape[1]))
    ax = fig.add_subplot()
    draw_grid(ax, grid, image)
    ax.set_title(f"{title}: {grid_caption(layer, max_in, max_out)}", fontsize=10)
    return FilterFigure(layer.name, "grid", save_figure(fig, out), tuple(grid.shape[:2]))


def plot_layer_rgb(layer: ConvLayer, title: str, out: Path) -> FilterFigure:
    mosaic = rgb_mosaic(layer.weight)
    image = mosaic_image(mosaic)
    fig = new_figure(*panel_size(image, mosaic.shape[1]))
    ax = fig.add_subplot()
    draw_mosaic(ax, mosaic, len(layer.weight), image)
    ax.set_title(f"{title}: {rgb_caption(layer)}", fontsize=10)
    return FilterFigure(layer.name, "rgb", save_figure(fig, out), tuple(mosaic.shape[:2]))


def check_limits(max_in: int, max_out: int) -> None:
    for flag, value in (("--max-in", max_in), ("--max-out", max_out)):
        if value < 1:
            raise UserError(f"{flag} must be at least 1, got {value}")


def visualize_checkpoint(
    ckpt: Checkpoint,
    out: Path,
    layers: Sequence[str] | None = None,
    max_in: int = DEFAULT_MAX,
    max_out: int = DEFAULT_MAX,
) -> list[FilterFigure]:
    """Write `<layer>.png` for each conv layer (all, or those named) and the first conv's RGB
    mosaic `<layer>-rgb.png` when it reads 3 channels; return what was written, in model order."""
    check_limits(max_in, max_out)
    every = conv_layers(ckpt)
    chosen = select_layers(every, layers)
    title = figure_title(ckpt)
    written = []
    for layer in chosen:
        written.append(
            plot_layer_grid(layer, title, out / f"{layer.file_stem}.png", max_in, max_out)
        )
        if layer is every[0] and is_rgb_layer(layer):
            written.append(plot_layer_rgb(layer, title, out / f"{layer.file_stem}-rgb.png"))
    return written


def default_filters_dir(run_or_file: Path) -> Path:
    path = Path(run_or_file)
    if path.is_dir():
        return path / "filters"
    return path.parent / ("filters" if path.name == "best.pt" else f"filters-{path.stem}")


@dataclass(frozen=True)
class VisualizeResult:
    checkpoint: Path
    figures: list[FilterFigure]
    curves: Path | None  # None: not a run directory, or no metrics.csv yet
    without_figure: str | None = None  # which layers have no filter figure, and why


def visualize_run(
    run_or_file: Path,
    out: Path | None = None,
    layers: Sequence[str] | None = None,
    max_in: int = DEFAULT_MAX,
    max_out: int = DEFAULT_MAX,
) -> VisualizeResult:
    """Filters of a run directory's best.pt (or of a checkpoint file), plus the run's curves."""
    run_or_file = Path(run_or_file)
    check_limits(max_in, max_out)
    path = find_checkpoint(run_or_file)
    ckpt = load_checkpoint(path)
    out = default_filters_dir(run_or_file) if out is None else Path(out)
    from runner.visualize.attention_figure import attention_figure

    figures = visualize_checkpoint(ckpt, out, layers, max_in, max_out)
    distance, said = attention_figure(ckpt, out)
    if distance is not None:
        figures.append(distance)
    curves = None
    metrics = run_or_file / METRICS_FILE
    if run_or_file.is_dir() and metrics.is_file():
        curves = plot_curves(metrics, run_or_file / CURVES_FILE, figure_title(ckpt))
    return VisualizeResult(path, figures, curves, without_filters(ckpt, said))
