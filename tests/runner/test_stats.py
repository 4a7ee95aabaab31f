"""The statistics of a study over seeds, against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from runner.study.stats import Estimate, paired, standard_error, t_quantile


def test_mean_standard_error_and_interval_of_three_seeds():
    # mean 0.55; deviations -0.05, 0, 0.05: sd = sqrt(0.005 / 2) = 0.05, SE = 0.05 / sqrt(3)
    e = Estimate.of([0.50, 0.55, 0.60])
    assert e.n == 3
    assert e.mean == pytest.approx(0.55)
    assert e.se == pytest.approx(0.0288675, abs=1e-7)
    low, high = e.interval  # t(0.975, 2) = 4.303: half-width 0.124217
    assert (low, high) == (pytest.approx(0.425783, abs=1e-6), pytest.approx(0.674217, abs=1e-6))
    assert e.percent() == "55.0% ± 2.9 (n=3)"


def test_two_values_use_t_with_one_degree_of_freedom():
    e = Estimate.of([1.0, 3.0])  # sd = sqrt(2), SE = 1
    assert e.se == pytest.approx(1.0)
    assert e.interval == (pytest.approx(2 - 12.706), pytest.approx(2 + 12.706))


def test_one_value_has_no_spread_and_prints_as_a_plain_accuracy():
    e = Estimate.of([0.875])
    assert e.se is None and e.interval is None
    assert e.percent() == "87.5%"
    assert standard_error([0.3]) is None


def test_t_quantiles_from_the_table_then_the_normal():
    assert t_quantile(1) == 12.706
    assert t_quantile(4) == 2.776
    assert t_quantile(30) == 2.042
    assert t_quantile(31) == 1.96 and t_quantile(1000) == 1.96
    # the table falls towards the normal's quantile, never below it
    table = [t_quantile(df) for df in range(1, 32)]
    assert table == sorted(table, reverse=True)
    with pytest.raises(ValueError):
        t_quantile(0)


def test_paired_differences_on_the_shared_seeds_say_better():
    base = {0: 0.50, 1: 0.52, 2: 0.54}
    variant = {0: 0.60, 1: 0.61, 2: 0.65, 3: 0.99}  # seed 3: no base to pair with
    result = paired(base, variant)
    assert list(result.differences) == [0, 1, 2]
    assert [round(d, 6) for d in result.differences.values()] == [0.10, 0.09, 0.11]
    # mean 0.10; sd 0.01; SE 0.01 / sqrt(3) = 0.0057735; half-width 4.303 * SE = 0.024843
    assert result.estimate.mean == pytest.approx(0.10)
    low, high = result.estimate.interval
    assert low == pytest.approx(0.075157, abs=1e-6) and high == pytest.approx(0.124843, abs=1e-6)
    assert result.verdict == "better"
    assert paired(variant, base).verdict == "worse"


def test_noisy_differences_are_no_difference_detected():
    # differences 0.05, -0.03, 0.01: mean 0.01, sd 0.04, SE 0.023094, interval -0.0894 to 0.1094
    result = paired({0: 0.5, 1: 0.5, 2: 0.5}, {0: 0.55, 1: 0.47, 2: 0.51})
    low, high = result.estimate.interval
    assert low < 0 < high
    assert low == pytest.approx(0.01 - 4.303 * 0.04 / math.sqrt(3))
    assert result.verdict == "no difference detected at n=3 seeds"


def test_one_shared_seed_cannot_decide_and_none_gives_no_estimate():
    one = paired({0: 0.5, 1: 0.6}, {1: 0.9})
    assert one.n == 1 and one.estimate.mean == pytest.approx(0.3)
    assert one.verdict == "no difference detected at n=1 seed"
    none = paired({0: 0.5}, {1: 0.9})
    assert none.n == 0 and none.estimate is None


def test_the_pareto_frontier_keeps_what_nothing_beats_for_less():
    from runner.study.pareto import frontier

    # (cost, accuracy): c is beaten by b (cheaper, more accurate); d ties a's cost, less accurate
    points = [(1.0, 0.50), (2.0, 0.70), (3.0, 0.60), (1.0, 0.40), (5.0, 0.80)]
    assert frontier(points) == [0, 1, 4]
    assert frontier([]) == []
    assert frontier([(2.0, 0.5), (2.0, 0.5)]) == [0]  # a tie is kept once
