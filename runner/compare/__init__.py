"""`archspec compare`: how alike two runs' learned filters are, layer by layer, and how far each
moved from its start; with a baseline so "different" can be told from "no more alike than any
two unrelated filters".

For each conv layer (filters flattened over input channels x kernel, all in float64):

- A vs B: mean cosine similarity of corresponding filters (filter i of A against filter i of B).
- non-corresponding: the same mean over every pair i != j, the level unrelated filters reach.
- A / B vs start: each run against its starting weights, re-drawn with `seeded_model` when both
  runs record the same seed (then both started from the same conv weights).
- changes alike: the same A-vs-B similarity of what training changed, W - W0, with its own
  non-corresponding baseline. A shared start makes trained filters alike by itself; this says
  whether the two tasks also moved their filters the same way (> 0), unrelated ways (about
  the baseline) or opposite ways (< 0).
- moved: mean over filters of ||W_i - W0_i|| / ||W0_i||.

The figures and the table go to `compare-<A>-vs-<B>/` beside A's run directory by default.

similarity.py holds the tensor math, layer_comparison.py one layer's numbers and verdict,
comparison.py the whole comparison and its table, reading.py its paragraph in words, runs.py
the loading of two runs and the writing of figures and comparison.md.
"""

from runner.compare.comparison import Comparison, RunSide
from runner.compare.layer_comparison import MARGIN, LayerComparison, compare_layers
from runner.compare.reading import in_words
from runner.compare.runs import (
    COMPARISON_FILE,
    ComparisonResult,
    compare_checkpoints,
    compare_runs,
    default_compare_dir,
    run_name,
    spec_difference,
    start_weights,
)
from runner.compare.similarity import (
    corresponding_cosines,
    cross_similarity,
    filter_similarity,
    relative_change,
)

__all__ = [
    "COMPARISON_FILE",
    "MARGIN",
    "Comparison",
    "ComparisonResult",
    "LayerComparison",
    "RunSide",
    "compare_checkpoints",
    "compare_layers",
    "compare_runs",
    "corresponding_cosines",
    "cross_similarity",
    "default_compare_dir",
    "filter_similarity",
    "in_words",
    "relative_change",
    "run_name",
    "spec_difference",
    "start_weights",
]
