"""The engine as a whole: a restored engine behaves exactly as the one snapshotted, for
any continuation (a property over drawn streams of events of every rule, ticks and
silences, the snapshot passed through JSON); a restart keeps open incidents without
notifying them twice and keeps watching heartbeats; reloads keep what they can and
resolve what they drop; bad input is counted, never fatal; the clock is handed in."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.alerts import (
    AbsentRule,
    AlertEngine,
    HeartbeatRule,
    RatioRule,
    StatusRule,
    ThresholdRule,
)

RULES = [
    HeartbeatRule(name="hb", default_ttl=2, flap_hold=1, renotify=5, remediation=("fix",), remediate_after=2),
    StatusRule(name="st", for_evaluations=2, expire=10, flap_hold=0),
    ThresholdRule(
        name="lat",
        match="*.latency",
        statistic="mean",
        window=5,
        warning_above=50,
        critical_above=80,
        for_seconds=1,
        evaluate_every=2,
        flap_hold=2,
    ),
    AbsentRule(name="jobs", match="job.done", after=4, key_fields=("host",), flap_hold=0),
    RatioRule(
        name="err",
        numerator="web.response",
        numerator_where={"code": "5*"},
        denominator="web.response",
        window=5,
        min_volume=2,
        critical_above=0.4,
        evaluate_every=2,
        renotify=3,
    ),
]

HOSTS = st.sampled_from("xy")
EVENTS = st.one_of(
    st.builds(
        lambda app, host: {"name": f"{app}.heartbeat", "host": host}, st.sampled_from("ab"), st.sampled_from("xy")
    ),
    st.builds(
        lambda app, host: {"name": f"{app}.shutdown", "host": host}, st.sampled_from("ab"), st.sampled_from("xy")
    ),
    st.builds(
        lambda status, host: {"name": "db.check", "host": host, "status": status},
        st.sampled_from(["ok", "critical", "warning", "unknown"]),
        st.sampled_from("xy"),
    ),
    st.builds(
        lambda value, host: {"name": "api.latency", "host": host, "value": value},
        st.integers(0, 120),
        st.sampled_from("xy"),
    ),
    st.builds(lambda host: {"name": "job.done", "host": host}, st.sampled_from("xy")),
    st.builds(
        lambda code, host: {"name": "web.response", "host": host, "code": code},
        st.sampled_from([200, 500]),
        st.sampled_from("xy"),
    ),
)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("events"), st.integers(0, 1500), st.lists(EVENTS, max_size=4)),
        st.tuples(st.just("tick"), st.integers(0, 6000)),
        st.tuples(
            st.just("silence"),
            st.integers(0, 500),
            st.sampled_from(["hb/*", "*/host=x", "st/*", "*"]),
            st.integers(-100, 8000),
            st.sampled_from(["s1", "s2", "s3"]),
        ),
        st.tuples(st.just("unsilence"), st.integers(0, 500), st.sampled_from(["s1", "s2", "s3"])),
    ),
    max_size=40,
)


def apply(engine: AlertEngine, op: tuple, now: int) -> Any:
    """One operation; what it returned or raised, to compare engines by."""
    try:
        if op[0] == "events":
            return engine.observe([dict(event) for event in op[2]], now)
        if op[0] == "tick":
            return engine.tick(now)
        if op[0] == "silence":
            return engine.add_silence(op[2], now + op[3], now, comment="c", silence_id=op[4])
        return engine.remove_silence(op[2], now)
    except (ValueError, KeyError) as exc:
        return type(exc).__name__


def state_of(engine: AlertEngine) -> tuple:
    return engine.snapshot(), engine.open_incidents(), engine.silences(), engine.watched(), engine.next_due_ms()


@settings(max_examples=200, deadline=None)
@given(OPS, OPS)
def test_a_restored_engine_behaves_exactly_as_the_original(before: list[tuple], after: list[tuple]) -> None:
    original = AlertEngine(RULES)
    now = 1_000_000
    for op in before:
        now += op[1]
        apply(original, op, now)
    saved = orjson.loads(orjson.dumps(original.snapshot()))
    restored = AlertEngine(RULES)
    restored.restore(saved)
    assert restored.snapshot() == original.snapshot()
    for op in after:
        now += op[1]
        assert apply(restored, op, now) == apply(original, op, now)
        assert state_of(restored) == state_of(original)


# -- restarts -----------------------------------------------------------------------------


def restart(engine: AlertEngine, rules: list | None = None, **resume: int) -> AlertEngine:
    fresh = AlertEngine(engine.rules if rules is None else rules)
    fresh.restore(orjson.loads(orjson.dumps(engine.snapshot())), **resume)
    return fresh


def test_an_open_incident_survives_a_restart_without_a_second_page() -> None:
    engine = AlertEngine([HeartbeatRule(name="hb", flap_hold=0)])
    engine.observe([{"name": "web.heartbeat", "host": "a", "ttl": 1000}, {"name": "db.heartbeat", "host": "a"}], 0)
    assert [n.action for n in engine.tick(1000)] == ["trigger"]
    engine = restart(engine)
    assert [i.key for i in engine.open_incidents()] == ["hb/web/host=a"]
    assert engine.tick(30_000) == []  # not paged twice
    assert engine.watched() == {"hb": 2}  # every heartbeat known before is still watched
    assert [(n.action, n.incident.key) for n in engine.tick(60_000)] == [("trigger", "hb/db/host=a")]
    out = engine.observe([{"name": "web.heartbeat", "host": "a", "ttl": 1000}], 61_000)
    assert [(n.action, n.incident.key, n.incident.opened_ms) for n in out] == [("resolve", "hb/web/host=a", 1000)]


def test_time_down_is_not_blamed_on_heartbeats() -> None:
    engine = AlertEngine([HeartbeatRule(name="hb"), AbsentRule(name="ab", match="job", after=20)])
    engine.observe([{"name": "web.heartbeat", "host": "a", "ttl": 10_000}], 0)
    engine.tick(5_000)
    engine = restart(
        engine, [HeartbeatRule(name="hb"), AbsentRule(name="ab", match="job", after=20)], resumed_ms=65_000
    )
    assert engine.tick(65_000) == []  # down for a minute: the ttl left was 5 s, and so it still is
    assert engine.tick(69_999) == []
    assert [n.incident.key for n in engine.tick(70_000)] == ["hb/web/host=a"]
    assert [n.incident.key for n in engine.tick(80_000)] == ["ab/job"]  # 15 s left before, 15 s after


def test_without_resumed_ms_the_restored_clock_goes_on_from_the_snapshot() -> None:
    engine = AlertEngine([HeartbeatRule(name="hb")])
    engine.observe([{"name": "web.heartbeat", "host": "a", "ttl": 10_000}], 0)
    engine = restart(engine)
    assert [n.at_ms for n in engine.tick(65_000)] == [10_000]


def test_incidents_of_rules_gone_at_a_restart_are_resolved_at_the_first_call() -> None:
    engine = AlertEngine([StatusRule(name="old", match="x"), StatusRule(name="kept", match="k")])
    engine.observe([{"name": "x", "status": "critical"}, {"name": "k", "status": "warning"}], 0)
    engine = restart(engine, [StatusRule(name="kept", match="k")])
    out = engine.tick(1000)
    assert [(n.action, n.incident.key, n.at_ms) for n in out] == [("resolve", "old/x/host=", 1000)]
    assert out[0].incident.summary == "rule 'old' is no longer configured, or keys by other fields now"
    assert [i.key for i in engine.open_incidents()] == ["kept/k/host="]


def test_an_absent_rule_whose_key_fields_went_watches_from_the_restart() -> None:
    engine = AlertEngine([AbsentRule(name="ab", match="job", after=10, key_fields=("host",))])
    engine.observe([{"name": "job", "host": "a"}], 0)
    engine = restart(engine, [AbsentRule(name="ab", match="job", after=10)], resumed_ms=5_000)
    assert [(n.incident.key, n.at_ms) for n in engine.tick(15_000)] == [("ab/job", 15_000)]


def test_a_status_value_that_is_no_number_is_no_value() -> None:
    engine = AlertEngine([StatusRule(name="st")])
    (out,) = engine.observe([{"name": "x", "status": "critical", "value": float("nan")}], 0)
    assert out.incident.value is None
    assert orjson.loads(orjson.dumps(engine.snapshot())) == engine.snapshot()


def test_a_bad_snapshot_is_refused_and_the_engine_still_works() -> None:
    engine = AlertEngine([HeartbeatRule(name="hb")])
    for bad in ({}, {"version": 99}, {"version": 1, "now_ms": 0, "rules": {"hb": {"kind": "heartbeat", "keys": [{}]}}}):
        with pytest.raises(ValueError, match="not a snapshot"):
            engine.restore(bad)
    engine.observe([{"name": "web.heartbeat", "host": "a", "ttl": 10}], 0)
    assert len(engine.tick(10)) == 1


# -- reloads ------------------------------------------------------------------------------


def test_a_reload_keeps_rules_by_name_resolves_those_gone_and_starts_new_ones() -> None:
    engine = AlertEngine([HeartbeatRule(name="hb", flap_hold=0), StatusRule(name="st")])
    engine.observe([{"name": "web.heartbeat", "host": "a", "ttl": 1000}, {"name": "x", "status": "critical"}], 0)
    engine.tick(1000)
    new_rules = [HeartbeatRule(name="hb", flap_hold=0, default_ttl=5), AbsentRule(name="ab", match="y", after=10)]
    out = engine.reconfigure(new_rules, 2000)
    assert [(n.action, n.incident.key) for n in out] == [("resolve", "st/x/host=")]
    assert [i.key for i in engine.open_incidents()] == ["hb/web/host=a"]
    assert engine.watched() == {"hb": 1, "ab": 1}
    assert [n.incident.key for n in engine.tick(12_000)] == ["ab/y"]  # watched from the reload
    with pytest.raises(ValueError, match="two rules"):
        engine.reconfigure([StatusRule(name="a"), StatusRule(name="a")], 13_000)
    assert engine.watched() == {"hb": 1, "ab": 1}


def test_a_rule_that_changes_kind_under_its_name_starts_again() -> None:
    engine = AlertEngine([StatusRule(name="r")])
    engine.observe([{"name": "x", "status": "critical"}], 0)
    out = engine.reconfigure([ThresholdRule(name="r", match="x", critical_above=1)], 10)
    assert [n.action for n in out] == ["resolve"]
    assert engine.open_incidents() == []


@pytest.mark.parametrize("through", ["reload", "restart"])
def test_a_rule_that_keys_by_other_fields_now_resolves_the_incidents_of_its_old_keys(through: str) -> None:
    """Kept, the incident of ``host=a`` would stay open for ever: no heartbeat can ever
    name that key again once the rule keys by ``dc`` as well."""
    engine = AlertEngine([HeartbeatRule(name="hb", flap_hold=0), StatusRule(name="st", key_fields=("host",))])
    engine.observe([{"name": "web.heartbeat", "host": "a", "ttl": 1000}, {"name": "x", "status": "critical"}], 0)
    assert [n.incident.key for n in engine.tick(1000)] == ["hb/web/host=a"]
    new_rules = [HeartbeatRule(name="hb", flap_hold=0, key_fields=("host", "dc")), StatusRule(name="st")]
    if through == "reload":
        out = engine.reconfigure(new_rules, 2000)
    else:
        engine = restart(engine, new_rules, resumed_ms=2000)
        out = engine.tick(2000)
    assert [(n.action, n.incident.key) for n in out] == [("resolve", "hb/web/host=a")]
    assert [i.key for i in engine.open_incidents()] == ["st/x/host="]  # same key fields: kept
    engine.observe([{"name": "web.heartbeat", "host": "a", "dc": "x", "ttl": 1000}], 3000)
    assert [n.incident.key for n in engine.tick(4000)] == ["hb/web/dc=x/host=a"]


# -- the engine's own rules -----------------------------------------------------------------


def test_timers_fire_in_time_order_across_rules_however_late_the_tick() -> None:
    engine = AlertEngine([HeartbeatRule(name="hb"), AbsentRule(name="ab", match="j", after=0.5)])
    engine.observe([{"name": "web.heartbeat", "host": "a", "ttl": 1000}], 0)
    out = engine.tick(10_000)
    assert [(n.incident.key, n.at_ms) for n in out] == [("ab/j", 500), ("hb/web/host=a", 1000)]


def test_the_clock_never_goes_back() -> None:
    engine = AlertEngine([HeartbeatRule(name="hb", flap_hold=0)])
    engine.observe([{"name": "web.heartbeat", "host": "a", "ttl": 1000}], 5000)
    assert engine.tick(1000) == []
    out = engine.observe([{"name": "web.heartbeat", "host": "b", "ttl": 1000}], 0)  # taken as at 5000
    assert out == []
    assert sorted(n.incident.key for n in engine.tick(6000)) == ["hb/web/host=a", "hb/web/host=b"]


def test_events_no_rule_can_read_are_counted_and_the_stream_goes_on() -> None:
    engine = AlertEngine([StatusRule(name="st"), ThresholdRule(name="t", match="*", critical_above=1)])
    events: list[Any] = [
        {"value": 3},
        {"name": 42, "status": "critical"},
        ["not", "an", "event"],
        {"name": "x", "host": ["a", "list"], "status": "critical", "value": 5},
    ]
    out = engine.observe(events, 0)
    assert [(n.action, n.incident.key) for n in out] == [
        ("trigger", "t/x/host=['a', 'list']"),
        ("trigger", "st/x/host=['a', 'list']"),
    ]
    assert (engine.stats.events, engine.stats.unnamed, engine.stats.failed) == (4, 2, 1)
    assert "AttributeError" in engine.stats.last_error


def test_silences_through_the_engine() -> None:
    engine = AlertEngine([StatusRule(name="st")])
    silence = engine.add_silence("st/db.*", 60_000, 0, comment="maintenance")
    assert (silence.match, silence.ends_ms, silence.comment, silence.created_ms) == (
        "st/db.*",
        60_000,
        "maintenance",
        0,
    )
    assert len(silence.id) == 32
    assert engine.observe([{"name": "db.check", "status": "critical"}], 1000) == []
    assert engine.silences() == [silence]
    out = engine.remove_silence(silence.id, 2000)
    assert [(n.action, n.at_ms) for n in out] == [("trigger", 2000)]
    assert engine.silences() == []


def test_next_due_says_when_a_tick_has_work() -> None:
    engine = AlertEngine([HeartbeatRule(name="hb")])
    assert engine.next_due_ms() is None
    engine.observe([{"name": "web.heartbeat", "host": "a", "ttl": 1000}], 0)
    assert engine.next_due_ms() == 1000
