"""Whether to draw progress bars: only on a terminal.

tqdm redraws a bar by writing a carriage return and the new bar; a terminal overwrites the
line, but a log file (nohup, Slurm, CI, `2> log`) keeps every redraw, thousands per epoch.
Without a terminal the per-epoch lines ("[Epoch 3] eval accuracy ...") report progress instead.
"""

from __future__ import annotations

import sys
from typing import TextIO


def show_progress(quiet: bool, stream: TextIO | None = None) -> bool:
    """Bars unless --quiet, and only when `stream` (the bars' own, stderr) is a terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return not quiet and stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False
