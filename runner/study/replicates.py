"""A sweep's runs grouped over seeds: one cell per (variant, task, held-out domain) holding a run
per seed, and the per-seed values of a summary field, which the report's tables estimate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runner.study.plan import SweepRun
from runner.study.stats import Estimate

Summaries = Mapping[str, Mapping[str, Any]]  # run name -> its summary.json


@dataclass(frozen=True)
class Cell:
    """The runs of one variant, task and held-out domain, one per seed, in seed order."""

    runs: tuple[SweepRun, ...]

    @property
    def first(self) -> SweepRun:
        return self.runs[0]

    @property
    def variant(self) -> str:
        return self.first.variant

    @property
    def label(self) -> str:
        return self.first.label

    @property
    def task(self) -> str:
        return self.first.task

    @property
    def holdout(self) -> str | None:
        return self.first.holdout

    def per_seed(self, summaries: Summaries, field: str) -> dict[int, float]:
        """seed -> the field's value in that run's summary (runs without it are left out)."""
        values = {r.seed: summaries[r.name].get(field) for r in self.runs}
        return {seed: float(v) for seed, v in values.items() if v is not None}

    def estimate(self, summaries: Summaries, field: str) -> Estimate | None:
        values = list(self.per_seed(summaries, field).values())
        return Estimate.of(values) if values else None


def group_seeds(runs: Sequence[SweepRun]) -> list[Cell]:
    """The cells in plan order (first appearance), each cell's runs by seed."""
    groups: dict[tuple[str, str, str | None], list[SweepRun]] = {}
    for run in runs:
        groups.setdefault((run.variant, run.task, run.holdout), []).append(run)
    return [Cell(tuple(sorted(g, key=lambda r: r.seed))) for g in groups.values()]


def headline_field(cell: Cell) -> str:
    """What a cell is judged by: the held-out domain's test accuracy at the epoch the source
    domains chose, else the best validation accuracy."""
    return "test_accuracy" if cell.holdout else "best_val_accuracy"


def domain_average(rows: Sequence[Mapping[int, float]]) -> dict[int, float]:
    """seed -> its average over the held-out domains (one row each), for the seeds every
    domain has: DomainBed averages each trial before taking the mean over trials."""
    if not rows:
        return {}
    seeds = sorted(set.intersection(*(set(r) for r in rows)))
    return {seed: sum(r[seed] for r in rows) / len(rows) for seed in seeds}
