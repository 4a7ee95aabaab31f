"""Two runs' filters compared, layer by layer, and how that is written down: the table, its
legend, the reading in words and the whole comparison.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.compare.layer_comparison import LayerComparison
from runner.compare.reading import in_words
from runner.compare.representation import CkaResult
from runner.visualize.filters import FilterFigure


@dataclass(frozen=True)
class RunSide:
    checkpoint: Path
    run: str  # the run directory's name (plus the checkpoint's stem if not best.pt)
    label: str  # what the table calls it: the task when the tasks differ, else the run
    task: str
    seed: int | None
    epoch: int
    spec: str = ""  # the spec's name
    holdout_domain: str | None = None

    def details(self) -> str:
        seed = "seed unknown" if self.seed is None else f"seed {self.seed}"
        held = (
            f"held-out domain {self.holdout_domain}"
            if self.holdout_domain
            else "no held-out domain"
        )
        spec = f"{self.spec}, " if self.spec else ""
        when = f"{self.checkpoint.name} after epoch {self.epoch}"
        return f"{spec}{self.task} task, {held}, {seed}, {when}"

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
    layers: tuple[LayerComparison, ...]  # empty for runs of different specs, or without convs
    cka: CkaResult | None = None
    same_spec: bool = True  # False: the filters do not correspond, only CKA compares

    @property
    def category_vs_domain(self) -> bool:
        """Only a category run against a domain run can speak to the study's claim."""
        return {self.a.task, self.b.task} == {"category", "domain"}

    def _cka_cells(self, i: int | None) -> tuple[str, ...]:
        if self.cka is None:
            return ()
        if i is None:  # a conv the CKA did not measure (a run of another spec)
            return ("", "")
        return (_f(self.cka.diagonal()[i]), _f(self.cka.base(i)))

    def _filter_rows(self) -> list[tuple[str, ...]]:
        """A row per conv layer, and with CKA a row per attention layer in its place in the
        model, its filter columns empty: attention has no filters to compare one by one."""
        by_layer = {
            r.layer: (
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
        }
        if self.cka is None:
            return list(by_layer.values())
        pooled = set(self.cka.pooled)
        names = [r.layer for r in self.layers]
        names += [n for n in self.cka.layers_a if n in pooled]  # then ordered as the model runs
        order = {n: i for i, n in enumerate(self.cka.layers_a)}
        names.sort(key=lambda n: order.get(n, -1))
        empty = ("",) * 8
        return [
            (
                *by_layer.get(n, (n, "no kernels (attention)", *empty)),
                *self._cka_cells(self.cka.position(n)),
            )
            for n in names
        ]

    def _measured(self) -> str:
        return "conv and attention" if self.cka is not None and self.cka.pooled else "conv"

    def table(self) -> str:
        a, b = self.a.label, self.b.label
        cka_header = ("CKA", "CKA baseline") if self.cka is not None else ()
        if not self.same_spec and self.cka is not None:  # different specs: CKA only
            header = (f"{a} layer", f"{b} layer", *cka_header)
            rows = [
                (la, lb, *self._cka_cells(i))
                for i, (la, lb) in enumerate(
                    zip(self.cka.layers_a, self.cka.layers_b, strict=False)
                )
            ]
            lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * 2]
            return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
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
            *cka_header,
        )
        rows = self._filter_rows()
        lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)

    def legend(self) -> str:
        a, b = self.a.label, self.b.label
        cka = ""
        if self.cka is not None:
            cka = (
                f" *CKA*: linear CKA of {self.cka.what_is_measured()} on {self.cka.images} (1: the "
                "same features up to rotation and scale, 0: unrelated); *CKA baseline*: "
                f"{a} against {self.cka.baseline}."
            )
        if not self.same_spec:
            measured = self._measured()
            return (
                "The runs are of different specs, so their filters are not compared; "
                f"layers correspond by their order among the {measured} layers.{cka}"
            )
        return (
            f"Mean cosine similarity of corresponding filters ({a} vs {b}: filter i of one "
            "against filter i of the other, each flattened over input channels x kernel); "
            "*non-corresponding*: the same mean over every pair i != j, the level unrelated "
            "filters reach; *vs start*: each run against its starting weights; *changes*: the "
            f"same two numbers for what training changed (W - W0 of {a} against W - W0 of {b}): "
            "a shared start alone makes filters alike, this says whether the two tasks also "
            "moved them the same way (a high non-corresponding value means all filters moved "
            "in one common direction); *moved*: mean ||W - W0|| / ||W0|| per filter. "
            f"Empty: no known shared start.{cka}"
        )

    def reading(self) -> str:
        """One paragraph in words, generated from the numbers."""
        return in_words(
            self.layers,
            self.a.label,
            self.b.label,
            self.shared_start,
            self.cka,
            claim=self.category_vs_domain,
        )

    def markdown(
        self, figures: Sequence[FilterFigure] = (), relative_to: Path | None = None
    ) -> str:
        lines = [
            f"# {self.spec_name}: {self.a.label} vs {self.b.label}",
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
        if self.cka is not None:
            lines += [
                "",
                f"## Linear CKA, every {self._measured()} layer of {self.a.label} against every "
                f"one of {self.b.label}",
                "",
                self.cka.table(self.a.label, self.b.label),
                "",
                "![Linear CKA heatmap](cka.png)",
            ]
        if figures:
            lines += ["", "## Figures", ""]
            for fig in figures:
                link = fig.path if relative_to is None else fig.path.relative_to(relative_to)
                what = "as RGB" if fig.kind == "rgb" else "kernels"
                lines += [f"![{fig.layer} {what}]({link.as_posix()})", ""]
        return "\n".join(lines).rstrip() + "\n"
