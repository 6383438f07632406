"""The cardinality guard: known series always pass, new ones only under every limit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from collector.sinks.influxdb._cardinality import (
    TOO_MANY_MEASUREMENTS,
    TOO_MANY_SERIES,
    TOO_MANY_SERIES_IN_MEASUREMENT,
    SeriesGuard,
    name_pattern,
)


def test_limits_per_measurement_in_total_and_on_measurements() -> None:
    guard = SeriesGuard(per_measurement=2, total=3, measurements=10)
    assert guard.admit("m", "m,a=1") is None
    assert guard.admit("m", "m,a=2") is None
    assert guard.admit("m", "m,a=3") == TOO_MANY_SERIES_IN_MEASUREMENT
    assert guard.admit("m", "m,a=1") is None  # a known series always passes
    assert guard.admit("n", "n,a=1") is None
    assert guard.admit("o", "o,a=1") == TOO_MANY_SERIES
    assert guard.series == 3
    narrow = SeriesGuard(per_measurement=100, total=100, measurements=2)
    assert narrow.admit("a", "a") is None
    assert narrow.admit("b", "b,x=1") is None
    assert narrow.admit("c", "c") == TOO_MANY_MEASUREMENTS
    assert narrow.admit("b", "b,x=2") is None  # a known measurement still takes new series
    assert narrow.measurement_count == 2


@given(
    st.lists(st.tuples(st.sampled_from("abcdef"), st.integers(0, 20)), max_size=200),
    st.integers(1, 10),
    st.integers(1, 6),
)
def test_never_more_than_allowed(points, limit, measurements) -> None:
    guard = SeriesGuard(per_measurement=limit, total=limit * 2, measurements=measurements)
    admitted: dict[str, set[str]] = {}
    for measurement, tag in points:
        series = f"{measurement},t={tag}"
        known = series in admitted.get(measurement, set())
        if guard.admit(measurement, series) is None:
            admitted.setdefault(measurement, set()).add(series)
        else:
            assert not known  # a series once admitted is never refused
    assert all(len(s) <= limit for s in admitted.values())
    assert sum(len(s) for s in admitted.values()) <= limit * 2
    assert len(admitted) <= measurements
    assert guard.series == sum(len(s) for s in admitted.values())


def test_name_patterns_gather_a_flood() -> None:
    assert name_pattern("api.req.7f3a.latency") == name_pattern("api.req.91c2.latency") == "api.req.*.latency"
    assert name_pattern("api.latency") == "api.latency"
