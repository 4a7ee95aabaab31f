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

Filters correspond only between runs of one spec, and only through a shared start. What the
layers compute is compared for any two runs: linear CKA (cka.py) between every conv layer of A
and every conv layer of B on the same validation images, with a baseline (A against its own
start, or against another run of its task) that says what a CKA value means here.

The figures and the table go to `compare-<A>-vs-<B>/` beside A's run directory by default.

similarity.py and cka.py hold the tensor math, activations.py the images and the Grams,
representation.py the CKA result, heatmap.py cka.png, layer_comparison.py one layer's numbers
and verdict, comparison.py the whole comparison and its table, reading.py its paragraph in
words, runs.py the loading of two runs and the writing of figures and comparison.md.
"""

from runner.compare.cka import MinibatchCKA, hsic1, linear_cka
from runner.compare.comparison import Comparison, RunSide
from runner.compare.layer_comparison import MARGIN, LayerComparison, compare_layers
from runner.compare.reading import in_words
from runner.compare.representation import CkaResult
from runner.compare.runs import (
    CKA_FILE,
    COMPARISON_FILE,
    ComparisonResult,
    compare_checkpoints,
    compare_runs,
    default_compare_dir,
    measure_cka,
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
from runner.data.validation import validation_images

__all__ = [
    "CKA_FILE",
    "COMPARISON_FILE",
    "MARGIN",
    "CkaResult",
    "Comparison",
    "ComparisonResult",
    "LayerComparison",
    "MinibatchCKA",
    "RunSide",
    "compare_checkpoints",
    "compare_layers",
    "compare_runs",
    "corresponding_cosines",
    "cross_similarity",
    "default_compare_dir",
    "filter_similarity",
    "hsic1",
    "in_words",
    "linear_cka",
    "measure_cka",
    "relative_change",
    "run_name",
    "spec_difference",
    "start_weights",
    "validation_images",
]
