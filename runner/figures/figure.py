"""Matplotlib set-up shared by every figure: the Agg backend, small PNGs, atomic saves.

Figures are made with `matplotlib.figure.Figure` directly, never through pyplot: nothing is
registered in pyplot's global list of open figures (no leaks over a sweep of hundreds of
figures), no GUI backend is ever touched, and a caller that uses pyplot itself keeps its own
backend. The Agg backend is still selected before pyplot is imported, for anyone who does.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import matplotlib

if "matplotlib.pyplot" not in sys.modules:  # switching later would close the caller's figures
    matplotlib.use("Agg")  # headless: training machines have no display

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from archspec.io import write_atomic

DPI = 100  # small PNGs: a 12x12 grid of kernels is about 800x800 pixels
GAP_COLOR = "#5b7fa6"  # between grey kernels: a colour no kernel pixel can have
BACKGROUND = "white"


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # render with Agg whatever backend pyplot may be using
    return fig


def save_figure(fig: Figure, path: Path) -> Path:
    """Write the figure as a PNG atomically, then free it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor=BACKGROUND)
    fig.clear()
    write_atomic(path, lambda f: f.write(buffer.getvalue()))
    return Path(path)


def bare(ax: Axes) -> None:
    """No ticks or tick labels: kernels have no meaningful axis values."""
    ax.set_xticks([])
    ax.set_yticks([])
