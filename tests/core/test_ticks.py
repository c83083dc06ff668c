"""Axis ticks: 1, 2 or 5 × 10^k apart, covering the data, labels all different and no longer than needed."""
import math

import pytest

from core.charts.ticks import format_ticks, inner_ticks, nice_step, nice_ticks


def _is_nice(step):
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-9)
    return any(math.isclose(mantissa, m) for m in (1, 2, 5, 10))


RANGES = [
    (0, 1), (0.1, 0.9), (4.29, 5.77), (6.2318, 6.2325), (6.232, 6.2320001), (-3, 7), (-1e-3, -5e-4),
    (1e-5, 2e-4), (1e9, 3.5e9), (123456, 123459), (1.2, 10.6), (-250.0, -249.99), (0, 1e12),
]


@pytest.mark.parametrize("low,high", RANGES)
def test_ticks_are_round_evenly_spaced_cover_the_range_and_read_differently(low, high):
    ticks = nice_ticks(low, high)
    assert _is_nice(ticks.step)
    assert ticks.low <= low and ticks.high >= high
    assert ticks.high - ticks.low < (high - low) + 2.01 * ticks.step  # no more than one step of slack each side
    gaps = [b - a for a, b in zip(ticks.values, ticks.values[1:])]
    assert all(math.isclose(gap, ticks.step, rel_tol=1e-6) for gap in gaps)
    assert 3 <= len(ticks.values) <= 8
    assert len(set(ticks.labels)) == len(ticks.labels)


def test_a_range_a_thousandth_wide_is_labelled_with_four_decimals_not_the_same_three_times():
    ticks = nice_ticks(6.2318, 6.2325)
    assert ticks.labels == ["6.2318", "6.2320", "6.2322", "6.2324", "6.2326"]


def test_labels_carry_no_more_decimals_than_the_step_needs():
    assert nice_ticks(0, 10).labels == ["0", "2", "4", "6", "8", "10"]
    assert nice_ticks(4.29, 5.77).labels == ["4.0", "4.5", "5.0", "5.5", "6.0"]


@pytest.mark.parametrize("value", [0.0, 6.232, -3.5, 2e-4, 7e9])
def test_a_flat_series_still_gets_distinct_ticks_around_its_value(value):
    ticks = nice_ticks(value, value)
    assert ticks.low < value < ticks.high
    assert len(ticks.values) >= 3 and len(set(ticks.labels)) == len(ticks.labels)


def test_negative_ranges_and_zero_read_naturally():
    assert nice_ticks(-3, 7).labels == ["-4", "-2", "0", "2", "4", "6", "8"]
    labels = nice_ticks(-1, 1).labels
    assert labels == ["-1.0", "-0.5", "0.0", "0.5", "1.0"]  # zero without a minus sign


def test_huge_and_tiny_values_go_scientific_and_stay_distinct():
    assert nice_ticks(1e9, 3e9).labels[:2] == ["1.0e9", "1.5e9"]
    learning_rates = nice_ticks(1e-5, 2e-4).labels
    assert learning_rates == ["0", "5.0e-5", "1.0e-4", "1.5e-4", "2.0e-4"]


def test_the_step_is_the_smallest_nice_number_at_least_as_big():
    assert [nice_step(x) for x in (0.7, 1, 1.01, 2.5, 4.9, 7, 0.003)] == [1, 1, 2, 5, 5, 10, 0.005]


def test_inner_ticks_stay_inside_and_can_be_whole_numbers():
    ticks = inner_ticks(1, 130, 6, integer=True)
    assert ticks.values == [20, 40, 60, 80, 100, 120]
    assert inner_ticks(1, 3, 6, integer=True).labels == ["1", "2", "3"]
    assert inner_ticks(5, 5).values == [5]


def test_infinite_bounds_are_refused():
    with pytest.raises(ValueError):
        nice_ticks(0, float("inf"))


def test_format_ticks_alone():
    assert format_ticks([1000.0, 2000.0], 1000) == ["1,000", "2,000"]
