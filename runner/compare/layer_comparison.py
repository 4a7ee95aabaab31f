"""One conv layer of two runs side by side: the numbers, and the verdict they add up to."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from runner.compare.similarity import cross_similarity, filter_similarity, relative_change
from runner.visualize.layers import ConvLayer

# How far apart two mean cosines must be to be called different. A mean over n filters of
# cosines between random d-dim vectors has a spread of about 1 / sqrt(n * d): under 0.01 for
# every layer of the study (d >= 27, n >= 48), so 0.05 is well clear of chance.
MARGIN = 0.05


@dataclass(frozen=True)
class LayerComparison:
    layer: str  # Conv2d-4
    kernels: str  # 256x96 kernels 5x5
    similarity: float  # A vs B, corresponding filters
    baseline: float | None  # A vs B, non-corresponding pairs
    a_to_start: float | None = None  # None: no known start
    b_to_start: float | None = None
    changes: float | None = None  # A - start vs B - start; None: no shared start
    changes_baseline: float | None = None  # the same, non-corresponding pairs
    a_moved: float | None = None
    b_moved: float | None = None

    def verdict(self) -> str:
        """unrelated | start (alike only through the shared start) | apart | alike."""
        if self.similarity - (self.baseline or 0.0) < MARGIN:
            return "unrelated"
        if self.changes is None:
            return "alike"
        lift = self.changes - (self.changes_baseline or 0.0)
        if lift > MARGIN:
            return "alike"
        if lift < -MARGIN:
            return "apart"
        return "start"


def compare_layers(
    a: ConvLayer, b: ConvLayer, start_a: torch.Tensor | None, start_b: torch.Tensor | None
) -> LayerComparison:
    wa, wb = a.weight, b.weight
    shared = start_a is not None and start_b is not None and torch.equal(start_a, start_b)
    moved_a = None if start_a is None else wa - start_a
    moved_b = None if start_b is None else wb - start_b
    return LayerComparison(
        layer=a.name,
        kernels=a.describe(),
        similarity=filter_similarity(wa, wb),
        baseline=cross_similarity(wa, wb),
        a_to_start=None if start_a is None else filter_similarity(wa, start_a),
        b_to_start=None if start_b is None else filter_similarity(wb, start_b),
        changes=filter_similarity(moved_a, moved_b) if shared else None,
        changes_baseline=cross_similarity(moved_a, moved_b) if shared else None,
        a_moved=None if start_a is None else relative_change(wa, start_a),
        b_moved=None if start_b is None else relative_change(wb, start_b),
    )
