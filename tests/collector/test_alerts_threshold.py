"""Threshold and ratio rules through the engine, with the clock handed in.

Against references written here: a threshold key's level at each event is its window's
statistic (computed afresh from the key's samples, as test_alerts_windows does) against
the bounds; a ratio key's is the numerator's sum over the denominator's in the window,
no verdict under ``min_volume`` (sums over 60 buckets a window); a level counts once the last ``for_evaluations`` events
were at it or worse; the incident is the highest level that counts. Drawn streams at
drawn times, with ``evaluate_every`` longer than the stream so that events alone
evaluate. Then table tests: the timers (idle re-evaluation, no data, ``for_seconds``),
filters, fields of aggregated summaries, bounds below, the sample bound."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.alerts import AlertEngine, Notification, RatioRule, ThresholdRule

from .test_alerts_windows import in_window
from .test_alerts_windows import reference as statistic_of

NAMES = ("ok", "warning", "unknown", "critical")
VALUES = st.integers(0, 400).map(lambda n: n / 4)
BOUNDS = st.sampled_from(
    [
        {"warning_above": 50.0, "critical_above": 80.0},
        {"critical_above": 60.0},
        {"warning_below": 30.0, "critical_below": 10.0},
        {"warning_above": 70.0, "warning_below": 20.0, "critical_below": 5.0},
    ]
)


def level_of(value: float | None, bounds: dict[str, float]) -> int:
    if value is None:
        return 0
    inf = math.inf
    if value > bounds.get("critical_above", inf) or value < bounds.get("critical_below", -inf):
        return 3
    if value > bounds.get("warning_above", inf) or value < bounds.get("warning_below", -inf):
        return 1
    return 0


def verdict(levels: list[int], count: int) -> int:
    return min(levels[-count:]) if len(levels) >= count else 0


def seen(notifications: list[Notification]) -> list[tuple]:
    return [(n.action, n.incident.key, n.at_ms, n.incident.severity) for n in notifications]


def change(key: str, old: int, new: int, at: int) -> list[tuple]:
    if old == new:
        return []
    action = "trigger" if old == 0 else "resolve" if new == 0 else "update"
    return [(action, key, at, NAMES[new])]


@settings(max_examples=250, deadline=None)
@given(
    st.sampled_from(["last", "mean", "min", "max", "sum", "count", "rate", "p50", "p90"]),
    st.sampled_from([1000, 5000, 30_000]),
    BOUNDS,
    st.sampled_from([1, 2, 3]),
    st.lists(
        st.tuples(st.integers(0, 3000), st.sampled_from(["svc.a", "svc.b", "other"]), st.sampled_from("xy"), VALUES),
        max_size=80,
    ),
)
def test_thresholds_follow_the_reference(
    statistic: str, window: int, bounds: dict[str, float], count: int, ops: list[tuple]
) -> None:
    rule = ThresholdRule(
        name="t",
        match="svc.*",
        statistic=statistic,
        window=window / 1000,
        for_evaluations=count,
        evaluate_every=3600,
        flap_hold=0,
        **bounds,
    )
    engine = AlertEngine([rule])
    samples: dict[str, list[tuple[int, float]]] = {}
    levels: dict[str, list[int]] = {}
    verdicts: dict[str, int] = {}
    now = 0
    for gap, name, host, value in ops:
        now += gap
        got = engine.observe([{"name": name, "host": host, "value": value}], now)
        expected: list[tuple] = []
        if name != "other":
            key = f"t/{name}/host={host}"
            samples.setdefault(key, []).append((now, value))
            measured = statistic_of(statistic, samples[key], now, window, 10_000)
            levels.setdefault(key, []).append(level_of(measured, bounds))
            new = verdict(levels[key], count)
            expected = change(key, verdicts.get(key, 0), new, now)
            verdicts[key] = new
            if got:
                assert got[0].incident.value == measured
        assert seen(got) == expected


@settings(max_examples=250, deadline=None)
@given(
    st.sampled_from([1000, 10_000]),
    st.sampled_from([0, 3, 10]),
    st.sampled_from([1, 2]),
    st.lists(
        st.tuples(
            st.integers(0, 2000),
            st.sampled_from(["web.response", "web.response", "api.response"]),
            st.sampled_from([200, 200, 200, 404, 500, 503]),
            st.sampled_from(["a", "b"]),
        ),
        max_size=80,
    ),
)
def test_ratios_follow_the_reference(window: int, volume: int, count: int, ops: list[tuple]) -> None:
    rule = RatioRule(
        name="errors",
        numerator="*.response",
        numerator_where={"status": "5*"},
        denominator="*.response",
        window=window / 1000,
        min_volume=volume,
        warning_above=0.1,
        critical_above=0.5,
        for_evaluations=count,
        evaluate_every=3600,
        flap_hold=0,
    )
    engine = AlertEngine([rule])
    seen_by_host: dict[str, list[tuple[int, bool]]] = {}
    levels: dict[str, list[int]] = {}
    verdicts: dict[str, int] = {}
    now = 0
    for gap, name, status, host in ops:
        now += gap
        got = engine.observe([{"name": name, "host": host, "status": status}], now)
        key = f"errors/*.response/host={host}"
        seen_by_host.setdefault(host, []).append((now, status >= 500))
        recent = [failed for at, failed in seen_by_host[host] if in_window("sum", at, now, window)]
        ratio = sum(recent) / len(recent) if len(recent) >= max(volume, 1) else None
        levels.setdefault(key, []).append(level_of(ratio, {"warning_above": 0.1, "critical_above": 0.5}))
        new = verdict(levels[key], count)
        assert seen(got) == change(key, verdicts.get(key, 0), new, now)
        verdicts[key] = new


# -- table tests: thresholds --------------------------------------------------------------


def load(value: float, host: str = "web-1", **fields: object) -> dict[str, object]:
    return {"name": "web-1.load", "host": host, "value": value, **fields}


def test_a_threshold_opens_updates_and_resolves_with_a_summary() -> None:
    engine = AlertEngine([ThresholdRule(name="load", match="*.load", warning_above=4, critical_above=8, flap_hold=0)])
    assert engine.observe([load(3)], 0) == []
    (trigger,) = engine.observe([load(5)], 1000)
    assert (trigger.action, trigger.incident.key, trigger.incident.severity) == (
        "trigger",
        "load/web-1.load/host=web-1",
        "warning",
    )
    assert trigger.incident.summary == "web-1.load on host=web-1: last of value over 60 s is 5 (warning above 4)"
    assert trigger.incident.labels == (("host", "web-1"), ("name", "web-1.load"))
    (update,) = engine.observe([load(9)], 2000)
    assert (update.action, update.incident.severity, update.incident.value) == ("update", "critical", 9.0)
    assert "critical above 8" in update.incident.summary
    (resolve,) = engine.observe([load(1)], 3000)
    assert resolve.action == "resolve"


def test_bounds_below() -> None:
    engine = AlertEngine(
        [ThresholdRule(name="disk", match="disk.free", warning_below=20, critical_below=5, flap_hold=0)]
    )
    out = [engine.observe([{"name": "disk.free", "value": v}], t) for t, v in enumerate([50, 15, 4, 30])]
    assert [[(n.action, n.incident.severity) for n in o] for o in out] == [
        [],
        [("trigger", "warning")],
        [("update", "critical")],
        [("resolve", "ok")],
    ]
    assert "critical below 5" in out[2][0].incident.summary


def test_a_window_that_ages_without_events_is_evaluated_again_and_empties_into_no_data() -> None:
    rule = ThresholdRule(
        name="errors", match="web.errors", statistic="rate", window=60, critical_above=1, evaluate_every=10, flap_hold=0
    )
    engine = AlertEngine([rule])
    out = engine.observe([{"name": "web.errors", "value": 1} for _ in range(90)], 0)  # 1.5/s over the window
    assert [n.action for n in out] == ["trigger"]
    engine.observe([{"name": "web.errors", "value": 1} for _ in range(30)], 30_000)  # 2/s, then nothing
    assert engine.tick(69_999) == []  # evaluated again at 40, 50, 60 s: the first 90 are still in
    out = engine.tick(70_000)  # they have left (their second of the window ended at 61 s): 0.5/s
    assert seen(out) == [("resolve", "errors/web.errors/host=", 70_000, "ok")]
    assert engine.watched() == {"errors": 1}
    engine.tick(99_999)
    assert engine.watched() == {"errors": 1}
    engine.tick(100_000)  # the window is empty: the key is forgotten
    assert engine.watched() == {"errors": 0}


def test_a_breached_key_that_stops_reporting_resolves_as_no_data() -> None:
    rule = ThresholdRule(name="load", match="*.load", critical_above=8, window=30, evaluate_every=10, flap_hold=0)
    engine = AlertEngine([rule])
    engine.observe([load(9)], 0)
    assert engine.tick(29_999) == []
    out = engine.tick(30_000)
    assert seen(out) == [("resolve", "load/web-1.load/host=web-1", 30_000, "ok")]
    assert out[0].incident.summary == "web-1.load on host=web-1: no data"


def test_for_seconds_opens_at_the_time_the_breach_has_lasted() -> None:
    rule = ThresholdRule(name="load", match="*.load", critical_above=8, for_seconds=30, flap_hold=0)
    engine = AlertEngine([rule])
    engine.observe([load(9)], 0)
    engine.observe([load(10)], 20_000)
    assert engine.tick(29_999) == []
    assert seen(engine.tick(30_000)) == [("trigger", "load/web-1.load/host=web-1", 30_000, "critical")]


def test_re_evaluations_of_an_aged_window_are_no_checks() -> None:
    """``for_evaluations`` counts events: a window looked at again without one is not a
    second failed check. But one that no longer breaches ends the run."""
    rule = ThresholdRule(
        name="lat",
        match="lat",
        statistic="max",
        window=15,
        critical_above=100,
        for_evaluations=2,
        evaluate_every=10,
        flap_hold=0,
    )
    engine = AlertEngine([rule])
    engine.observe([{"name": "lat", "value": 150}], 0)
    assert engine.tick(10_000) == []  # re-evaluated (still 150): no second check
    assert engine.observe([{"name": "lat", "value": 120}], 12_000) != []  # the second check in a row
    ending = ThresholdRule(
        name="mean",
        match="lat",
        statistic="mean",
        window=60,  # buckets of a second
        critical_above=90,
        for_evaluations=3,
        evaluate_every=60.5,
        flap_hold=0,
    )
    engine = AlertEngine([ending])
    engine.observe([{"name": "lat", "value": 150}], 0)  # mean 150: one
    engine.observe([{"name": "lat", "value": 50}], 1000)  # mean 100: two
    assert engine.tick(61_500) == []  # the 150 has left: mean 50, well: the run ends
    assert engine.observe([{"name": "lat", "value": 150}], 61_600) == []  # mean 100: one again, not three


def test_fields_of_aggregated_summaries_and_filters() -> None:
    rule = ThresholdRule(
        name="p90",
        match="api.*",
        where={"kind": "timer", "region": "eu-*"},
        field="upper_90",
        key_fields=("region",),
        critical_above=500,
    )
    engine = AlertEngine([rule])
    summaries = [
        {"name": "api.get", "kind": "timer", "region": "eu-west", "upper_90": 700.0, "count": 3.0},
        {"name": "api.get", "kind": "timer", "region": "us-east", "upper_90": 900.0},  # filtered out
        {"name": "api.hits", "kind": "counter", "region": "eu-west", "count": 3.0},  # filtered out
        {"name": "api.put", "kind": "timer", "region": "eu-west", "count": 0.0},  # no upper_90: counted
        {"name": "api.put", "kind": "timer", "region": "eu-west", "upper_90": "slow"},  # not a number
        {"name": "api.put", "kind": "timer", "region": "eu-west", "upper_90": math.inf},
    ]
    out = engine.observe(summaries, 0)
    assert [n.incident.key for n in out] == ["p90/api.get/region=eu-west"]
    assert engine.stats.refused == {("p90", "no field"): 1, ("p90", "not a number"): 2}


def test_percentiles_over_the_window() -> None:
    engine = AlertEngine([ThresholdRule(name="p", match="rt", statistic="p99", critical_above=100)])
    events = [{"name": "rt", "value": v} for v in [10] * 99]
    assert engine.observe(events, 0) == []
    assert engine.observe([{"name": "rt", "value": 1000}], 1) == []  # p99 of 100 samples: the 99th, 10
    assert [n.action for n in engine.observe([{"name": "rt", "value": 1000}], 2)] == ["trigger"]


def test_windows_and_keys_are_bounded() -> None:
    rule = ThresholdRule(name="m", match="m", statistic="p50", critical_above=1e9, max_samples=10, max_keys=3)
    engine = AlertEngine([rule])
    engine.observe([{"name": "m", "host": "a", "value": 1} for _ in range(25)], 0)
    assert engine.stats.samples_dropped["m"].count == 15
    engine.observe([{"name": "m", "host": h, "value": 1} for h in "bcdef"], 1)
    assert engine.watched() == {"m": 3}
    assert engine.stats.keys_dropped["m"] == 3


# -- table tests: ratios ------------------------------------------------------------------


def test_a_ratio_needs_its_minimum_volume() -> None:
    """Three requests at night, two of them failing, do not page."""
    rule = RatioRule(
        name="5xx",
        numerator="web.response",
        numerator_where={"status": "5*"},
        denominator="web.response",
        key_fields=(),
        critical_above=0.05,
        min_volume=100,
    )
    engine = AlertEngine([rule])
    night = [{"name": "web.response", "status": s} for s in (500, 503, 200)]
    assert engine.observe(night, 0) == []
    day = [{"name": "web.response", "status": 200 if i % 10 else 500} for i in range(97)]
    out = engine.observe(day, 1000)
    assert [(n.action, n.incident.key, n.incident.severity) for n in out] == [
        ("trigger", "5xx/web.response", "critical")
    ]
    assert out[0].incident.value == pytest.approx(12 / 100)
    assert out[0].incident.summary == "web.response / web.response is 0.12: 12 of 100 in 300 s (critical above 0.05)"


def test_a_ratio_of_two_names_weighted_by_a_field() -> None:
    """Aggregated counters: each summary counts its ``count``."""
    rule = RatioRule(
        name="errors",
        numerator="*.errors",
        denominator="*.requests",
        field="count",
        key_fields=("service",),
        warning_above=0.01,
        min_volume=1000,
    )
    engine = AlertEngine([rule])
    out = engine.observe(
        [
            {"name": "api.requests", "kind": "counter", "service": "api", "count": 5000.0, "rate": 500.0},
            {"name": "api.errors", "kind": "counter", "service": "api", "count": 100.0, "rate": 10.0},
            {"name": "api.errors", "kind": "counter", "service": "api"},  # no count: refused
        ],
        0,
    )
    assert [(n.action, n.incident.key, n.incident.value) for n in out] == [
        ("trigger", "errors/*.errors/service=api", 0.02)
    ]
    assert engine.stats.refused == {("errors", "no field"): 1}


def test_a_ratio_whose_traffic_stops_is_forgotten() -> None:
    rule = RatioRule(
        name="r", numerator="e", denominator="e", critical_above=0.5, min_volume=1, window=10, evaluate_every=5
    )
    engine = AlertEngine([rule])
    engine.observe([{"name": "e"}], 0)
    engine.tick(100_000)
    assert engine.watched() == {"r": 0}
    assert engine.open_incidents() == []


def test_a_value_at_a_bound_is_within_it() -> None:
    """Above is strictly above, below strictly below: a bound is the last good value."""
    rule = ThresholdRule(name="b", match="b", warning_above=10, critical_below=0, flap_hold=0)
    other = ThresholdRule(name="c", match="c", critical_above=5, warning_below=1, flap_hold=0)
    engine = AlertEngine([rule, other])
    at_bounds = [
        {"name": "b", "value": 10},
        {"name": "b", "value": 0},
        {"name": "c", "value": 5},
        {"name": "c", "value": 1},
    ]
    assert engine.observe(at_bounds, 0) == []
    assert [n.incident.severity for n in engine.observe([{"name": "b", "value": 10.25}], 1)] == ["warning"]
    assert [n.incident.severity for n in engine.observe([{"name": "b", "value": -0.25}], 2)] == ["critical"]
