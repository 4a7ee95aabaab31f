"""What CKA says about two runs: the layer-by-layer matrix, its diagonal, and a baseline that
makes the numbers readable (A against its own start, or against another run of its task)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from archspec.text import layer_names
from runner.compare.layer_comparison import MARGIN


@dataclass(frozen=True)
class CkaResult:
    layers_a: tuple[str, ...]
    layers_b: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]  # [i][j]: A's layer i against B's layer j
    images: str  # which images, in words
    baseline: str  # what the baseline is, in words (or why there is none)
    baseline_values: tuple[float, ...] | None = None  # A's layer i against the baseline's i
    pooled: tuple[str, ...] = ()  # the layers measured by their output averaged over positions

    def diagonal(self) -> list[float]:
        """Corresponding layers: the i-th conv layer of A against the i-th of B."""
        return [self.values[i][i] for i in range(min(len(self.layers_a), len(self.layers_b)))]

    def pair(self, i: int) -> str:
        """The i-th corresponding layers by name: one name for runs of one spec, else both
        (`MultiheadAttention-26/Conv2d-9`)."""
        a, b = self.layers_a[i], self.layers_b[i]
        return a if a == b else f"{a}/{b}"

    def pairs(self) -> list[str]:
        return [self.pair(i) for i in range(len(self.diagonal()))]

    def position(self, layer: str) -> int | None:
        """Where A's layer `layer` is on the diagonal; None if it is not measured there."""
        diagonal = self.layers_a[: len(self.diagonal())]
        return diagonal.index(layer) if layer in diagonal else None

    def what_is_measured(self) -> str:
        """Which output of each layer CKA compares, for the legend."""
        if not self.pooled:
            return "each layer's whole output"
        return (
            "each conv layer's whole output map and each attention layer's output averaged "
            f"over its positions ({layer_names(self.pooled)}; the average does not depend on "
            "the order of the tokens or windows)"
        )

    def base(self, i: int) -> float | None:
        return None if self.baseline_values is None else self.baseline_values[i]

    def verdict(self, i: int) -> str | None:
        """alike | apart | baseline (A and B as alike as A and its baseline) | None (unknown)."""
        base = self.base(i)
        if base is None or math.isnan(base) or math.isnan(self.values[i][i]):
            return None
        lift = self.values[i][i] - base
        return "alike" if lift > MARGIN else "apart" if lift < -MARGIN else "baseline"

    def table(self, a: str, b: str) -> str:
        """The whole matrix: A's layers as rows, B's as columns."""
        lines = [
            f"| {a} \\ {b} | " + " | ".join(self.layers_b) + " |",
            "|---|" + "---:|" * len(self.layers_b),
        ]
        for name, row in zip(self.layers_a, self.values, strict=True):
            lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in row) + " |")
        return "\n".join(lines)
