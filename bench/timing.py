"""What the benchmarks share: rounds that interleave the measurements, medians with their spread,
and verdicts printed only where the spread supports them.

Interleaving (A B C, A B C, ...) instead of (A A A, B B B, ...) spreads a machine's slow moments
(another job, a clock change) over every measurement alike, so the ratios of one run stay fair.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

# The repository root, so `python bench/...` runs from a checkout without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MIN_ROUNDS_FOR_VERDICT = 5


@dataclass
class Series:
    """One measurement's value in every round (higher is better unless said)."""

    name: str
    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def spread(self, digits: int = 1) -> str:
        if len(self.values) < 2:
            return "one round"
        return f"{min(self.values):,.{digits}f}–{max(self.values):,.{digits}f}"


def interleave(rounds: int, measures: dict[str, Callable[[], float]]) -> dict[str, Series]:
    """Call every measure once per round, in the same order each round."""
    results = {name: Series(name) for name in measures}
    for _ in range(rounds):
        for name, measure in measures.items():
            results[name].values.append(measure())
    return results


def ratios(numerator: Series, denominator: Sequence[Series]) -> list[float]:
    """Per round: numerator / the best of `denominator` in that round (pairs share a round's
    conditions, so their ratio is steadier than a ratio of medians)."""
    best = [max(values) for values in zip(*(d.values for d in denominator), strict=True)]
    return [n / b for n, b in zip(numerator.values, best, strict=True)]


def verdict(per_round: Sequence[float], target: float) -> str:
    """ "met"/"missed" only where every round agrees and there were enough of them."""
    if len(per_round) < MIN_ROUNDS_FOR_VERDICT:
        return f"no verdict ({len(per_round)} rounds: too few)"
    if min(per_round) >= target:
        return f"met (every round ≥ {target})"
    if max(per_round) < target:
        return f"missed (every round < {target})"
    return f"no verdict (rounds straddle {target})"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def machine(device: torch.device) -> str:
    """The machine in words, for the heading of a result."""
    import os
    import platform

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    words = f"{platform.machine()}, {cores} cores, torch {torch.__version__}"
    if device.type == "cuda":
        words = f"{torch.cuda.get_device_name(device)}, {words}"
    return words
