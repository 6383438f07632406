"""Event building: numbat's schema and defaults (ported from numbat-emitter's 04-emitting-metrics)."""

from __future__ import annotations

import datetime as dt
import math

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emitter import EventBuilder
from emitter._wire import encode_batch, encode_json
from emitter.event import DEFAULT_VALUE, complete_event, qualify_name

NOW = 1_700_000_000.1234


def builder(**kwargs) -> EventBuilder:
    return EventBuilder("testapp", {"host": "h1"}, **kwargs)


def test_value_defaults_to_one_and_time_to_the_call_in_ms() -> None:
    event = builder().build("requests", None, {}, NOW)
    assert event is not None
    assert event["value"] == 1
    assert event["time"] == 1_700_000_000_123
    assert builder().build({"name": "requests", "time": None}, None, {}, NOW)["time"] == 1_700_000_000_123


def test_explicit_time_is_kept() -> None:
    moment = dt.datetime(2014, 1, 1, tzinfo=dt.UTC)
    assert builder().build("x", 4, {"time": 1388534400000}, NOW)["time"] == 1388534400000
    assert builder().build({"name": "x", "time": moment}, None, {}, NOW)["time"] is moment


def test_names_are_prefixed_with_the_app_once() -> None:
    b = builder()
    assert b.build("test", None, {}, NOW)["name"] == "testapp.test"
    assert b.build("testapp.test", None, {}, NOW)["name"] == "testapp.test"
    assert b.build("testapp", None, {}, NOW)["name"] == "testapp"
    # Unlike Node's indexOf check, a name that merely starts with the app's letters is prefixed.
    assert b.build("testapplication", None, {}, NOW)["name"] == "testapp.testapplication"
    assert b.build({"name": "test"}, None, {}, NOW)["name"] == "testapp.test"


@given(st.text(min_size=1), st.text(min_size=1))
def test_a_name_is_put_in_its_apps_namespace_once(app: str, name: str) -> None:
    qualified = qualify_name(app, name)
    assert qualified == app or qualified.startswith(app + ".")  # in the namespace
    assert qualified in (name, f"{app}.{name}")  # by a prefix, or as it was
    assert qualify_name(app, qualified) == qualified  # once
    if name != app and not name.startswith(app + "."):
        assert qualified == f"{app}.{name}"


def test_complete_event_fills_numbats_defaults_in_place() -> None:
    event = {"name": "x"}
    assert complete_event(event, 1_700_000_000_123) is event
    assert event == {"name": "x", "time": 1_700_000_000_123, "value": DEFAULT_VALUE}
    assert DEFAULT_VALUE == 1
    assert complete_event({"name": "x", "time": None}, 5)["time"] == 5  # null: the sender did not say
    assert complete_event({"name": "x"}, 5, default_value=None)["value"] is None  # statsd mode


def test_complete_event_keeps_what_the_event_says() -> None:
    moment = dt.datetime(2014, 1, 1, tzinfo=dt.UTC)
    for given_event in (
        {"name": "x", "value": 0, "time": 0},
        {"name": "x", "value": False, "time": moment},
        {"name": "x", "value": None, "time": 3},  # a null value is the sender's NaN, not "one"
    ):
        assert complete_event(dict(given_event), 5) == given_event


def test_host_and_node_fill_fields_the_caller_did_not_give() -> None:
    b = EventBuilder("testapp", {"host": "h1", "node": "node-1"})
    event = b.build("x", 4, {"status": "ok"}, NOW)
    assert event == {
        "name": "testapp.x",
        "value": 4,
        "time": event["time"],
        "host": "h1",
        "node": "node-1",
        "status": "ok",
    }
    assert b.build("x", 4, {"host": "other"}, NOW)["host"] == "other"
    assert "node" not in builder().build("x", None, {}, NOW)


def test_a_dict_event_is_never_mutated() -> None:
    given_event = {"name": "latency", "value": 30, "status": "ok"}
    snapshot = dict(given_event)
    event = builder().build(given_event, None, {"extra": 1}, NOW)
    assert given_event == snapshot
    assert event["name"] == "testapp.latency"
    assert event["extra"] == 1


def test_positional_value_wins_over_the_dicts_value() -> None:
    assert builder().build({"name": "x", "value": 3}, 9, {}, NOW)["value"] == 9
    assert builder().build({"name": "x", "value": 0}, None, {}, NOW)["value"] == 0


def test_fields_cannot_rename_the_event() -> None:
    assert builder().build("x", None, {"name": "y"}, NOW)["name"] == "testapp.x"


@pytest.mark.parametrize("bad", [None, "", 42, ["x"], {"value": 1}, {"name": ""}, {"name": 7}])
def test_events_without_a_usable_name_are_rejected(bad: object) -> None:
    assert builder().build(bad, None, {}, NOW) is None


def test_statsd_mode_leaves_value_unset() -> None:
    assert builder(default_value=None).build("hits", None, {}, NOW)["value"] is None


def test_the_name_cache_is_bounded() -> None:
    b = builder(name_cache_size=3)
    for i in range(10):
        assert b.qualify(f"n{i}") == f"testapp.n{i}"
    assert len(b._names) == 3


def test_app_is_required() -> None:
    with pytest.raises(ValueError, match="app must be a non-empty string"):
        EventBuilder("", {})


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)


@given(st.dictionaries(st.text(), scalars, max_size=8), st.text(min_size=1))
def test_scalar_fields_round_trip_through_the_wire_encoding(fields: dict, name: str) -> None:
    event = builder().build(name, None, dict(fields), NOW)
    line = encode_json(event)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1  # one event, one line, whatever the strings hold
    assert orjson.loads(line) == event


@given(st.one_of(st.integers(max_value=-(2**63) - 1), st.integers(min_value=2**64), st.just(object())))
def test_unencodable_fields_are_counted_and_do_not_sink_the_batch(huge: object) -> None:
    b = builder()
    events = [b.build("a", 1, {}, NOW), b.build("b", huge, {}, NOW), b.build("c", math.pi, {}, NOW)]
    data, lines, failures = encode_batch(events, encode_json)
    assert (lines, failures) == (2, 1)
    assert [orjson.loads(line)["name"] for line in data.splitlines()] == ["testapp.a", "testapp.c"]


anything = st.recursive(
    st.one_of(scalars, st.binary(), st.just(object())),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(), inner, max_size=3)),
    max_leaves=8,
)


@given(anything, anything, st.dictionaries(st.text(), anything, max_size=4))
def test_whatever_metric_is_given_building_and_encoding_never_raise(name: object, value: object, fields: dict) -> None:
    event = builder().build(name, value, fields, NOW)  # type: ignore[arg-type]
    assert event is None or event["name"].startswith("testapp")
    data, lines, failures = encode_batch([event] if event else [], encode_json)
    assert lines + failures == (1 if event else 0)
    assert data.count(b"\n") == lines


@given(st.lists(st.tuples(anything, anything, st.dictionaries(st.text(), anything, max_size=3)), max_size=10))
def test_build_all_is_build_in_a_loop(records: list) -> None:
    b = builder()
    full = [(name, value, fields, NOW) for name, value, fields in records]
    expected = [builder().build(*record) for record in full]
    events, invalid = b.build_all(full)
    assert events == [event for event in expected if event is not None]
    assert invalid == expected.count(None)
