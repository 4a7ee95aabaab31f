"""The statistics a study over seeds needs: mean, standard error, a Student-t 95% interval, and
the paired comparison of two variants trained on the same seeds.

Plain Python on a handful of numbers (one per seed): no scipy. The t quantiles are the usual
table's, two-sided 95% (0.975) for 1 to 30 degrees of freedom, then the normal's 1.96, which is
within 2% of t from 31 degrees of freedom on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from archspec.text import plural

# t(0.975, df) for df = 1 .. 30
T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
NORMAL_975 = 1.96


def t_quantile(df: int) -> float:
    """The two-sided 95% quantile of Student's t with `df` degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    return T_975[df - 1] if df <= len(T_975) else NORMAL_975


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("the mean of no values")
    return math.fsum(values) / len(values)


def standard_error(values: Sequence[float]) -> float | None:
    """Sample standard deviation (n - 1) over sqrt(n); None for a single value."""
    n = len(values)
    if n < 2:
        return None
    m = mean(values)
    sd = math.sqrt(math.fsum((v - m) ** 2 for v in values) / (n - 1))
    return sd / math.sqrt(n)


@dataclass(frozen=True)
class Estimate:
    """A quantity measured once per seed: its mean, standard error and 95% interval."""

    mean: float
    se: float | None  # None with one value: no spread to estimate
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Estimate:
        return cls(mean(values), standard_error(values), len(values))

    @property
    def interval(self) -> tuple[float, float] | None:
        """The Student-t 95% interval of the mean; None with one value."""
        if self.se is None:
            return None
        half = t_quantile(self.n - 1) * self.se
        return self.mean - half, self.mean + half

    def percent(self) -> str:
        """`55.0% ± 1.2 (n=3)`, the SE in percentage points; one value prints as `55.0%`."""
        if self.se is None:
            return f"{self.mean:.1%}"
        return f"{self.mean:.1%} ± {100 * self.se:.1f} (n={self.n})"


@dataclass(frozen=True)
class Paired:
    """Variant minus base on the seeds both were trained with, seed by seed."""

    differences: dict[int, float]  # seed -> variant - base
    estimate: Estimate | None  # None when no seed is shared

    @property
    def n(self) -> int:
        return len(self.differences)

    @property
    def verdict(self) -> str:
        """better / worse when the 95% interval of the mean difference excludes 0."""
        interval = None if self.estimate is None else self.estimate.interval
        if interval is not None and interval[0] > 0:
            return "better"
        if interval is not None and interval[1] < 0:
            return "worse"
        return f"no difference detected at n={plural(self.n, 'seed')}"


def paired(base: Mapping[int, float], variant: Mapping[int, float]) -> Paired:
    """Pair the two by seed: a seed only one of them has is left out, not guessed."""
    seeds = sorted(set(base) & set(variant))
    differences = {s: variant[s] - base[s] for s in seeds}
    estimate = Estimate.of(list(differences.values())) if differences else None
    return Paired(differences, estimate)
