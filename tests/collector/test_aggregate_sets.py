"""A set past ``max_set_members``: exact up to the bound, then a HyperLogLog whose count is
within its stated error (checked against the distinct members counted here), in a memory
that does not grow with what is added; counted in the stats and the self-metrics.

The error bound the tests hold is :data:`TOLERANCE`, 5 standard errors (4.1 %), plus
:data:`FEW` members at small counts: one estimate falls outside 5 standard errors with a
probability of about 6e-7 (a normal tail; the estimator's error is close to normal), so
the randomised tests cannot flake in practice. Ints hash to themselves in Python
(``hash(5) == 5``), which is the trap the sketch's hash mixing is for: every test draws
ints as well as strings, and :func:`test_the_estimate_has_no_bias` runs on fixed ints
(``hash()`` of an int is not randomised), so its outcome is the same on every run.
"""

from __future__ import annotations

import random
import statistics
import tracemalloc
from typing import Any

import trio
from hypothesis import example, given, settings
from hypothesis import strategies as st

from collector.aggregate import AggregationOptions, Aggregator, Rule
from collector.aggregate._distinct import REGISTERS, STANDARD_ERROR, HyperLogLog
from collector.aggregate._stage import AggregationStage
from collector.observe import SelfMetrics

from .test_aggregate import decoded
from .test_aggregate_stage import Recorder, run, statsd, ten_seconds, wall

#: The relative error the tests allow an estimate: 5 standard errors.
TOLERANCE = 5 * STANDARD_ERROR
#: And the members it may miss at small counts: a few members colliding in one register
#: (the estimate corrects for the collisions it expects, not for a rare extra one).
FEW = 4
SET_RULE = (Rule("*", "set"),)


def within(count: float, distinct: int) -> bool:
    return abs(count - distinct) <= TOLERANCE * distinct + FEW


def member_event(name: str, member: int | str) -> dict[str, Any]:
    """A set member as a statsd line (strings: the decoder's event) or a numbat event under a set rule (ints)."""
    if isinstance(member, str):
        [event] = decoded([f"{name}:{member}|s"])
        return event
    return {"name": name, "value": member, "time": 0}


def counts(summaries: list[dict[str, Any]]) -> dict[str, float]:
    assert all(summary["kind"] == "set" and set(summary) == {"name", "time", "kind", "count"} for summary in summaries)
    return {summary["name"]: summary["count"] for summary in summaries}


#: A set series in one interval: how many distinct members, and the first (the rest follow it).
SERIES = st.tuples(st.integers(1, 90), st.integers(-(2**62), 2**62))


@settings(max_examples=150, deadline=None)
@given(
    max_set_members=st.integers(1, 60),
    intervals=st.lists(
        st.fixed_dictionaries({}, optional={"users": SERIES, "ips": SERIES}),
        min_size=1,
        max_size=3,
    ),
    strings=st.booleans(),
    order=st.randoms(use_true_random=False),
)
def test_up_to_the_bound_a_set_is_exact_and_past_it_estimated(
    max_set_members: int, intervals: list[dict[str, tuple[int, int]]], strings: bool, order: random.Random
) -> None:
    options = AggregationOptions("a", max_set_members=max_set_members, delete_idle_after=None, rules=SET_RULE)
    aggregator = Aggregator(options)
    seen: set[str] = set()
    past_the_bound = 0
    for number, interval in enumerate(intervals):
        events = []
        for name, (distinct, first) in interval.items():
            members = [f"u{member}" if strings else member for member in range(first, first + distinct)]
            events += [member_event(name, member) for member in members + members[::3]]  # some twice
        order.shuffle(events)
        for event in events:
            assert aggregator.add(event)
        flushed = counts(aggregator.flush(1000 * (number + 1)))
        seen |= set(interval)
        assert set(flushed) == seen  # the idle ones too, as zero (delete_idle_after = None)
        for name in seen - set(interval):
            assert flushed[name] == 0
        for name, (distinct, _) in interval.items():
            if distinct <= max_set_members:
                assert flushed[name] == distinct
            else:
                past_the_bound += 1
                assert flushed[name] > max_set_members  # it held that many, exactly, before the switch
                assert within(flushed[name], distinct), (flushed[name], distinct)
    assert aggregator.stats.sets_estimated == past_the_bound
    assert aggregator.series == len(seen)


@settings(max_examples=8, deadline=None)
@given(
    distinct=st.integers(10_001, 200_000),
    start=st.integers(-(2**62), 2**62),
    strings=st.booleans(),
)
@example(distinct=200_000, start=0, strings=False)  # 0, 1, 2...: hash(n) == n, the trap
@example(distinct=200_000, start=0, strings=True)
def test_past_the_bound_the_count_is_within_the_stated_error(distinct: int, start: int, strings: bool) -> None:
    aggregator = Aggregator(AggregationOptions("a", rules=SET_RULE))  # max_set_members: 10,000
    event = member_event("users", "x" if strings else 0)
    add = aggregator.add
    for repeat in (1, 7):  # every member, then every seventh again: repeats count once
        for member in range(start, start + distinct, repeat):
            event["value"] = f"user-{member}" if strings else member
            add(event)
    [summary] = aggregator.flush(1000)
    assert within(summary["count"], distinct), (summary["count"], distinct)
    assert aggregator.stats.sets_estimated == 1
    assert aggregator.stats.aggregated == distinct + len(range(start, start + distinct, 7))


def test_the_estimate_has_no_bias() -> None:
    """The mean error of many estimates is far below one standard error: no systematic
    error hides inside the per-estimate tolerance. Fixed ints: the same outcome every run."""
    draw = random.Random(15)
    errors = []
    for _ in range(24):
        distinct, start = draw.randrange(1_000, 60_000), draw.getrandbits(62)
        sketch = HyperLogLog()
        sketch.update(range(start, start + distinct))
        errors.append(sketch.estimate() / distinct - 1)
    assert max(abs(error) for error in errors) <= TOLERANCE
    # the mean of 24 errors of about one standard error each spreads by about 0.2 of one
    assert abs(statistics.mean(errors)) <= STANDARD_ERROR


def test_an_estimated_set_holds_the_same_memory_whatever_is_added() -> None:
    aggregator = Aggregator(AggregationOptions("a", max_set_members=1_000, rules=SET_RULE))
    event = member_event("users", "x")
    for member in range(1_001):
        event["value"] = f"user-{member}"
        aggregator.add(event)
    assert aggregator.stats.sets_estimated == 1
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for member in range(1_001, 41_001):  # 40,000 more: 4.4 MB as a Python set of these strings
            event["value"] = f"user-{member}"
            aggregator.add(event)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 4_096
    [summary] = aggregator.flush(1000)
    assert within(summary["count"], 41_001)


def test_a_sketch_is_its_registers() -> None:
    sketch = HyperLogLog()
    sketch.update(range(100_000))
    assert len(sketch.registers) == REGISTERS == 2**14  # a byte each: 16 KiB
    assert 0.6 < sum(map(bool, sketch.registers)) / REGISTERS < 1  # consecutive ints spread over them all
    assert HyperLogLog().count() == 0
    assert HyperLogLog.of(["a"], 1).count() == 1
    assert HyperLogLog.of(["a"], 5).count() == 5  # never below what it knows


def test_an_estimated_set_is_one_series_idle_then_deleted_like_the_others() -> None:
    aggregator = Aggregator(AggregationOptions("a", max_set_members=10, delete_idle_after=1, rules=SET_RULE))
    for member in range(50):
        aggregator.add(member_event("users", member))
    assert aggregator.series == 1
    assert counts(aggregator.flush(1000)) == {"users": 50}  # few members: linear counting, exact here
    assert counts(aggregator.flush(2000)) == {"users": 0}  # idle: sent as zero once
    assert counts(aggregator.flush(3000)) == {}
    assert (aggregator.series, aggregator.stats.series_created, aggregator.stats.series_deleted) == (0, 1, 1)
    aggregator.add(member_event("users", 1))
    assert counts(aggregator.flush(4000)) == {"users": 1}  # a new interval starts exact


def test_a_lower_bound_on_reload_applies_from_the_next_member() -> None:
    aggregator = Aggregator(AggregationOptions("a", rules=SET_RULE))
    for member in range(20):
        aggregator.add(member_event("users", member))
    aggregator.reconfigure(AggregationOptions("a", max_set_members=5, rules=SET_RULE))
    assert aggregator.stats.sets_estimated == 0
    aggregator.add(member_event("users", 20))
    assert aggregator.stats.sets_estimated == 1
    assert counts(aggregator.flush(1000)) == {"users": 21}


def test_sets_and_timers_past_their_bound_are_counted_in_the_self_metrics() -> None:
    recorder, metrics = Recorder(), SelfMetrics()

    async def scenario() -> None:
        stage = AggregationStage(metrics, recorder, clock=wall)
        async with trio.open_nursery() as nursery:
            await nursery.start(stage.run)
            stage.start([ten_seconds(max_set_members=2, max_samples=2)])
            stage.add(statsd(b"users:a|s", b"users:b|s", b"users:c|s", b"users:d|s", b"ids:a|s", b"ids:b|s"))
            stage.add(statsd(b"lat:1|ms", b"lat:2|ms", b"lat:3|ms", b"fast:1|ms"))
            await trio.sleep(10)  # one flush, at trio time 6.75
            stage.add(statsd(b"users:a|s", b"users:b|s", b"users:c|s"))
            await trio.sleep(10)
            nursery.cancel_scope.cancel()

    run(scenario)
    first, second = recorder.flushes
    assert first.of("ids")["count"] == 2
    assert within(first.of("users")["count"], 4)
    assert within(second.of("users")["count"], 3)
    assert metrics.values(metrics.aggregation_sketched, by="kind", aggregation="10s") == {"set": 2, "timer": 1}
