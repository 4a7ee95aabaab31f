"""Figures with matplotlib: the shared set-up (Agg, small PNGs, atomic saves) and the plots of
a run's numbers (learning curves, confusion matrix, accuracy bars).

Below every phase that draws: training's finish phase, visualize, compare and study use it,
and it imports nothing of theirs.
"""

from runner.figures.confusion import confusion_matrix, plot_confusion
from runner.figures.curves import plot_curves, read_metrics

__all__ = ["confusion_matrix", "plot_confusion", "plot_curves", "read_metrics"]
