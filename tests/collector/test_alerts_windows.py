"""The alert rules' sliding windows against a reference written here: the statistic
computed afresh from the samples that are in the window (``now - window < t``, at most
``max_samples`` of the newest), over drawn streams of samples and clocks. Values are
multiples of 1/4 so that sums are exact in floats and must come out exact; dump then
load must answer exactly as the window dumped, for any continuation."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.alerts._windows import Drops, window_for

STATISTICS = ["last", "mean", "min", "max", "sum", "count", "rate", "p50", "p90", "p99", "p100", "p0.5", "p7", "p99.9"]
VALUES = st.integers(-4000, 4000).map(lambda n: n / 4)
#: (gap since the previous sample in ms, value); a gap of 0 is two samples at one time
STEPS = st.lists(st.tuples(st.integers(0, 3000), VALUES), min_size=1, max_size=120)


def in_window(statistic: str, at: int, now: int, window: int) -> bool:
    """Samples are in by their own time for ``last`` and percentiles, by their bucket's
    end (60 buckets a window, aligned on multiples of the width) for the others."""
    if statistic == "last" or statistic.startswith("p"):
        return at > now - window
    width = max(1, -(-window // 60))
    return (at // width + 1) * width > now - window


def reference(statistic: str, samples: list[tuple[int, float]], now: int, window: int, most: int) -> float | None:
    kept = [v for t, v in samples if in_window(statistic, t, now, window)]
    if statistic.startswith("p"):
        kept = kept[-most:]
    if not kept:
        return None
    if statistic == "last":
        return kept[-1]
    if statistic == "mean":
        return sum(kept) / len(kept)
    if statistic == "min":
        return min(kept)
    if statistic == "max":
        return max(kept)
    if statistic == "sum":
        return sum(kept)
    if statistic == "count":
        return float(len(kept))
    if statistic == "rate":
        return sum(kept) * 1000 / window
    percentile = Fraction(statistic[1:])
    ordered = sorted(kept)
    rank = max(1, math.ceil(percentile / 100 * len(ordered)))  # nearest rank, in exact fractions
    return ordered[rank - 1]


def make(statistic: str, window: int, most: int, drops: Drops | None = None):  # type: ignore[no-untyped-def]
    percentile = float(statistic[1:]) if statistic.startswith("p") else None
    return window_for(statistic, window, most, percentile, drops or Drops())


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(STATISTICS), st.integers(1, 10_000), st.integers(1, 50), STEPS, st.integers(0, 20_000))
def test_every_statistic_is_the_one_of_the_samples_in_the_window(
    statistic: str, window: int, most: int, steps: list[tuple[int, float]], after: int
) -> None:
    drops = Drops()
    subject = make(statistic, window, most, drops)
    now = 1_000_000
    samples: list[tuple[int, float]] = []
    in_window: list[int] = []
    pushed_out = 0  # samples still in the window that the bound pushed out
    for gap, value in steps:
        now += gap
        samples.append((now, value))
        in_window = [t for t in in_window if t > now - window] + [now]
        if len(in_window) > most:
            in_window.pop(0)
            pushed_out += 1
        answer = subject.update(now, value)
        assert answer == reference(statistic, samples, now, window, most)
    now += after  # the window ages without samples
    subject.expire(now)
    assert subject.value() == reference(statistic, samples, now, window, most)
    assert subject.empty() == (reference(statistic, samples, now, window, most) is None)
    assert drops.count == (pushed_out if statistic.startswith("p") else 0)  # the others keep buckets


#: Any finite values: a loaded window must answer as the dumped one bit for bit, however
#: its sums were rounded.
ANY_STEPS = st.lists(
    st.tuples(st.integers(0, 3000), st.one_of(VALUES, st.floats(-1e16, 1e16, allow_nan=False))),
    min_size=1,
    max_size=120,
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(STATISTICS),
    st.integers(1, 10_000),
    st.integers(1, 50),
    ANY_STEPS,
    ANY_STEPS,
)
def test_a_window_loaded_from_its_dump_answers_as_the_original(
    statistic: str, window: int, most: int, before: list[tuple[int, float]], after: list[tuple[int, float]]
) -> None:
    original = make(statistic, window, most)
    now = 0
    for gap, value in before:
        now += gap
        original.update(now, value)
    copy = make(statistic, window, most)
    copy.load(json.loads(json.dumps(original.dump())))
    assert copy.dump() == original.dump()
    for gap, value in after:
        now += gap
        assert copy.update(now, value) == original.update(now, value)
        assert copy.dump() == original.dump()


def test_a_sum_does_not_drift() -> None:
    """A huge sample that leaves the window leaves no rounding behind."""
    window = make("sum", 60_000, 10)
    window.update(0, 1e17)
    window.update(1000, 1.0)
    assert window.update(61_000, 0.25) == 1.25  # the huge one's bucket has left: exactly 1 + 0.25
    drifting = make("mean", 60_000, 10)
    for i in range(200_000):
        drifting.update(i, 0.1 if i % 2 else 1e9)
    in_window = range(139_000, 200_000)  # the buckets that end after 199_999 - 60_000
    expected = math.fsum(0.1 if i % 2 else 1e9 for i in in_window) / len(in_window)
    assert drifting.value() == pytest.approx(expected, rel=1e-12)


def test_buckets_keep_memory_fixed_whatever_the_rate() -> None:
    window = make("max", 60_000, 10)
    for i in range(100_000):
        window.update(i * 7, float(i % 1000))
    assert len(window.dump()["closed"]) <= 60
    assert window.value() == 999.0


def test_a_dump_of_another_window_width_starts_again() -> None:
    """A reload changed the window: its buckets are not the new width's."""
    old = make("mean", 60_000, 10)
    old.update(0, 5.0)
    new = make("mean", 120_000, 10)
    new.load(old.dump())
    assert new.empty()
    assert new.value() is None


def test_a_smaller_bound_since_the_dump_keeps_the_newest() -> None:
    big = make("p50", 1000, 10)
    for t in range(10):
        big.update(t, float(t))
    small = make("p50", 1000, 3)
    small.load(big.dump())
    assert small.dump()["samples"] == [[7, 7.0], [8, 8.0], [9, 9.0]]
    assert small.value() == 8.0


def test_a_percentile_rank_is_exact() -> None:
    """0.07 * 100 is 7.000000000000001 in floats: the 7th percentile of 100 samples is
    still the 7th, not the 8th."""
    window = make("p7", 1000, 1000)
    for value in range(1, 101):
        answer = window.update(0, float(value))
    assert answer == 7.0
