"""A timer past ``max_samples``: the DDSketch's stated error (1 % relative at every rank,
sums over ranks within 1 % of the magnitudes they cover), the statistics that stay
exact, and the sketch's bounded memory. Checked against exact values computed here."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.aggregate import AggregationOptions, Aggregator
from collector.aggregate._sketch import MAX_BUCKETS, MIN_MAGNITUDE, RELATIVE_ACCURACY, LogSketch

from .test_aggregate import timer_reference

ALPHA = RELATIVE_ACCURACY * (1 + 1e-9)  # float rounding at a bucket's edge
MAGNITUDES = st.floats(1e-6, 1e9, allow_nan=False)
SAMPLES = st.one_of(
    MAGNITUDES,
    MAGNITUDES.map(lambda x: -x),
    st.just(0.0),
    st.floats(1e-12, 1e-10),  # below MIN_MAGNITUDE: counted as zero
)


def close(estimate: float, exact: float) -> bool:
    return abs(estimate - exact) <= ALPHA * abs(exact) + MIN_MAGNITUDE


@settings(max_examples=200, deadline=None)
@given(st.lists(SAMPLES, min_size=1, max_size=400))
def test_every_rank_is_within_the_relative_error(samples: list[float]) -> None:
    sketch = LogSketch()
    for value in samples:
        sketch.add(value)
    ranked = sketch.ranked()
    exact = sorted(samples)
    assert ranked.count == len(samples)
    for rank, value in enumerate(exact):
        assert close(ranked.value_at(rank), value), (rank, ranked.value_at(rank), value)
    for k in range(len(exact) + 1):
        low_sum, _ = ranked.lowest(k)
        high_sum, _ = ranked.highest(k)
        covered_low = sum(abs(v) for v in exact[:k])
        covered_high = sum(abs(v) for v in exact[len(exact) - k :])
        slack = 1e-9 * sum(abs(v) for v in exact) + k * MIN_MAGNITUDE
        assert abs(low_sum - sum(exact[:k])) <= ALPHA * covered_low + slack
        assert abs(high_sum - sum(exact[len(exact) - k :])) <= ALPHA * covered_high + slack


def test_buckets_are_bounded_and_the_largest_values_keep_their_error() -> None:
    sketch = LogSketch()
    values = [1.0001**i * 1e-8 for i in range(0, 800_000, 97)]  # about 16 decades, 8248 values
    for value in values:
        sketch.add(value)
    assert sketch.buckets <= MAX_BUCKETS + 1
    ranked = sketch.ranked()
    top = len(values) - 1
    for rank in range(top - 1000, top + 1):
        assert close(ranked.value_at(rank), values[rank])


def test_a_narrow_range_needs_few_buckets() -> None:
    sketch = LogSketch()
    for i in range(100_000):
        sketch.add(100 + (i % 1000) / 10)  # 100 to 200 ms
    assert sketch.buckets <= 36  # log(2) / log(1.0202)


PERCENTILES = (50, 90, 99, 99.9, -5, -10)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 40),
    st.lists(st.one_of(MAGNITUDES, st.just(0.0)), min_size=41, max_size=300),
    st.sampled_from([(), (1.0, 1e3, math.inf)]),
)
def test_past_max_samples_a_timer_keeps_exact_totals_and_bounded_ranks(
    max_samples: int, samples: list[float], bins: tuple[float, ...]
) -> None:
    options = AggregationOptions(
        "a", interval=1.0, percentiles=PERCENTILES, histogram_bins=bins, max_samples=max_samples
    )
    aggregator = Aggregator(options)
    for value in samples:
        aggregator.add({"name": "t", "value": value, "time": 0, "statsd_type": "ms"})
    [summary] = aggregator.flush(1000)
    assert aggregator.stats.samples_sketched == len(samples)
    assert aggregator.stats.series_sketched == 1

    class Sample:
        def __init__(self, value: float) -> None:
            self.value, self.rate = value, None

    want = timer_reference([Sample(v) for v in samples], PERCENTILES, bins)  # type: ignore[list-item]
    exact_fields = ["count", "count_ps", "lower", "upper"] + [f for f in want if f.startswith(("count_", "bin_"))]
    for field in exact_fields:
        assert summary[field] == want[field], field
    for field in ("sum", "sum_squares", "mean"):
        assert math.isclose(summary[field], want[field], rel_tol=1e-9, abs_tol=1e-9), field
    assert math.isclose(summary["std"], want["std"], rel_tol=1e-6, abs_tol=1e-6 * want["upper"])
    exact = sorted(samples)
    n = len(exact)
    middle = n // 2
    median_scale = abs(exact[middle]) if n % 2 else (abs(exact[middle - 1]) + abs(exact[middle])) / 2
    assert abs(summary["median"] - want["median"]) <= ALPHA * median_scale + MIN_MAGNITUDE
    for field, value in want.items():
        if field.startswith(("upper_", "lower_")):
            assert close(summary[field], value), field
        elif field.startswith(("sum_", "mean_")) and not field.startswith("sum_squares"):
            suffix = field.partition("_")[2]
            kept = int(want["count_" + suffix])
            chosen = exact[:kept] if "top" not in suffix else exact[n - kept :]
            covered = sum(abs(v) for v in chosen) / (kept if field.startswith("mean_") else 1)
            assert abs(summary[field] - value) <= ALPHA * covered + 1e-9 * abs(value) + kept * MIN_MAGNITUDE, field
    assert set(summary) - {"name", "time", "kind"} == set(want)


def test_up_to_max_samples_a_timer_is_exact() -> None:
    aggregator = Aggregator(AggregationOptions("a", max_samples=100, percentiles=(90,)))
    values = [Fraction(i, 7) for i in range(100)]
    for value in values:
        aggregator.add({"name": "t", "value": float(value), "time": 0, "statsd_type": "ms"})
    [summary] = aggregator.flush(1000)
    assert aggregator.stats.samples_sketched == 0
    assert summary["upper_90"] == float(values[89])


@pytest.mark.parametrize("value", [1e-300, 1e300, -1e300, 5e-324])
def test_extreme_magnitudes_do_not_raise(value: float) -> None:
    sketch = LogSketch()
    for _ in range(3):
        sketch.add(value)
    sketch.add(1.0)
    ranked = sketch.ranked()
    assert ranked.count == 4
    assert all(math.isfinite(ranked.value_at(rank)) for rank in range(4))


def ranks(sketch: LogSketch) -> list[float]:
    ranked = sketch.ranked()
    return [ranked.value_at(rank) for rank in range(ranked.count)]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(SAMPLES, st.integers(1, 5)), min_size=1, max_size=100), st.integers(1, 4))
def test_weights_and_merges_are_the_same_as_samples_added_one_by_one(
    weighted: list[tuple[float, int]], parts: int
) -> None:
    """A sample of weight w counts as w samples (a statsd timer sampled at 1/w); sketches
    merged read as the sketch of all their samples (the prometheus sink's summary
    windows), rank for rank."""
    one_by_one, with_weights = LogSketch(), LogSketch()
    pieces = [LogSketch() for _ in range(parts)]
    for index, (value, weight) in enumerate(weighted):
        for _ in range(weight):
            one_by_one.add(value)
        with_weights.add(value, weight)
        pieces[index % parts].add(value, weight)
    merged = LogSketch.merged(pieces)
    assert ranks(with_weights) == ranks(one_by_one)
    assert ranks(merged) == ranks(one_by_one)
    assert (merged.count, merged.minimum, merged.maximum, merged.zeros) == (
        one_by_one.count,
        one_by_one.minimum,
        one_by_one.maximum,
        one_by_one.zeros,
    )
