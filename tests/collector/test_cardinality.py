"""The series guard: known series always pass, new ones only under both limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from collector.cardinality import SeriesGuard


def test_limits_per_measurement_and_in_total() -> None:
    guard = SeriesGuard(per_measurement=2, total=3)
    assert guard.admit("m", "m,a=1")
    assert guard.admit("m", "m,a=2")
    assert not guard.admit("m", "m,a=3")  # the measurement is full
    assert guard.admit("m", "m,a=1")  # a known series always passes
    assert guard.admit("n", "n,a=1")
    assert not guard.admit("o", "o,a=1")  # the total is reached
    assert guard.series == 3


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 20)), max_size=200), st.integers(1, 10))
def test_never_more_series_than_allowed(points, limit) -> None:
    guard = SeriesGuard(per_measurement=limit, total=limit * 2)
    admitted: dict[str, set[str]] = {}
    for measurement, tag in points:
        series = f"{measurement},t={tag}"
        if guard.admit(measurement, series):
            admitted.setdefault(measurement, set()).add(series)
    assert all(len(s) <= limit for s in admitted.values())
    assert sum(len(s) for s in admitted.values()) <= limit * 2
    assert guard.series == sum(len(s) for s in admitted.values())
