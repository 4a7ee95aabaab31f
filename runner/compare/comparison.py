"""Two runs' filters compared, layer by layer, and how that is written down: the table, its
legend, the reading in words and the whole comparison.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.compare.layer_comparison import LayerComparison
from runner.compare.reading import in_words
from runner.visualize.filters import FilterFigure


@dataclass(frozen=True)
class RunSide:
    checkpoint: Path
    run: str  # the run directory's name (plus the checkpoint's stem if not best.pt)
    label: str  # what the table calls it: the task when the tasks differ, else the run
    task: str
    seed: int | None
    epoch: int

    def details(self) -> str:
        seed = "seed unknown" if self.seed is None else f"seed {self.seed}"
        return f"{self.task} task, {self.checkpoint.name} after epoch {self.epoch}, {seed}"

    def describe(self) -> str:
        return f"{self.checkpoint} ({self.details()})"


def _f(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


@dataclass(frozen=True)
class Comparison:
    spec_name: str
    a: RunSide
    b: RunSide
    start: str  # one sentence on the starting weights
    shared_start: bool
    layers: tuple[LayerComparison, ...]

    def table(self) -> str:
        a, b = self.a.label, self.b.label
        header = (
            "Layer",
            "Kernels",
            f"{a} vs {b}",
            "non-corresponding",
            f"{a} vs start",
            f"{b} vs start",
            "changes alike",
            "changes non-corresponding",
            f"{a} moved",
            f"{b} moved",
        )
        rows = [
            (
                r.layer,
                r.kernels,
                _f(r.similarity),
                _f(r.baseline),
                _f(r.a_to_start),
                _f(r.b_to_start),
                _f(r.changes),
                _f(r.changes_baseline),
                _f(r.a_moved),
                _f(r.b_moved),
            )
            for r in self.layers
        ]
        lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)

    def legend(self) -> str:
        a, b = self.a.label, self.b.label
        return (
            f"Mean cosine similarity of corresponding filters ({a} vs {b}: filter i of one "
            "against filter i of the other, each flattened over input channels x kernel); "
            "*non-corresponding*: the same mean over every pair i != j, the level unrelated "
            "filters reach; *vs start*: each run against its starting weights; *changes*: the "
            f"same two numbers for what training changed (W - W0 of {a} against W - W0 of {b}): "
            "a shared start alone makes filters alike, this says whether the two tasks also "
            "moved them the same way (a high non-corresponding value means all filters moved "
            "in one common direction); *moved*: mean ||W - W0|| / ||W0|| per filter. "
            "Empty: no known shared start."
        )

    def reading(self) -> str:
        """One paragraph in words, generated from the numbers."""
        return in_words(self.layers, self.a.label, self.b.label, self.shared_start)

    def markdown(
        self, figures: Sequence[FilterFigure] = (), relative_to: Path | None = None
    ) -> str:
        lines = [
            f"# Filters of {self.spec_name}: {self.a.label} vs {self.b.label}",
            "",
            f"- A, *{self.a.label}*: `{self.a.checkpoint}` ({self.a.details()})",
            f"- B, *{self.b.label}*: `{self.b.checkpoint}` ({self.b.details()})",
            f"- Start: {self.start}",
            "",
            self.table(),
            "",
            self.legend(),
            "",
            self.reading(),
        ]
        if figures:
            lines += ["", "## Figures", ""]
            for fig in figures:
                link = fig.path if relative_to is None else fig.path.relative_to(relative_to)
                what = "as RGB" if fig.kind == "rgb" else "kernels"
                lines += [f"![{fig.layer} {what}]({link.as_posix()})", ""]
        return "\n".join(lines).rstrip() + "\n"
