"""The sender's line encoder against the general way (a dict per event, orjson each):
for any record, the same events, in the same order, with the same counts."""

from __future__ import annotations

import decimal
import enum
import math

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from emitter._encoder import LineEncoder
from emitter._wire import encode_batch, encode_json
from emitter.event import EventBuilder

NOW = 1_700_000_000.1234


class Colour(enum.Enum):
    RED = "red"


def general(builder: EventBuilder, records: list) -> tuple[list[bytes], int, int]:
    """What the emitter sent before the line encoder: build_all, then orjson per event."""
    events, invalid = builder.build_all(records)
    data, lines, unencodable = encode_batch(events, encode_json)
    assert data.count(b"\n") == lines
    return data.splitlines(), invalid, unencodable


def canonical(lines: list[bytes]) -> list[bytes]:
    """Each line decoded and encoded again: equal only when the events are equal, key
    order and number types included (1, 1.0 and true; 0.0 and -0.0 stay apart)."""
    return [orjson.dumps(orjson.loads(line)) for line in lines]


def assert_same_as_general(records: list, app: str = "testapp", defaults: dict | None = None, **options) -> None:
    defaults = {"host": "h1"} if defaults is None else defaults
    expected, invalid, unencodable = general(EventBuilder(app, defaults, **options), records)
    encoder = LineEncoder(EventBuilder(app, defaults, **options), cache_size=options.get("name_cache_size", 10_000))
    data, lines, got_invalid, got_unencodable = encoder.encode(records)
    assert data.endswith(b"\n") or data == b""
    assert data.count(b"\n") == lines
    assert (lines, got_invalid, got_unencodable) == (len(expected), invalid, unencodable)
    assert canonical(data.splitlines()) == canonical(expected)


names = st.one_of(
    st.sampled_from(["latency", "testapp", "testapp.x", "testappx", "é.ü", "a\nb", '"q"']),
    st.text(max_size=12),
)
numbers = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63) - 2, max_value=2**64 + 2),  # orjson's range and just past it
    st.integers(),
    st.floats(),  # NaN and ±inf included: orjson writes null
    st.booleans(),
)
scalars = st.one_of(numbers, st.text(max_size=8), st.sampled_from([Colour.RED, decimal.Decimal("2.5")]))
anything = st.recursive(
    st.one_of(scalars, st.binary(max_size=4), st.just(object())),
    lambda inner: st.one_of(st.lists(inner, max_size=2), st.dictionaries(st.text(max_size=4), inner, max_size=2)),
    max_leaves=4,
)
field_names = st.one_of(st.sampled_from(["status", "host", "node", "name", "value", "time"]), st.text(max_size=6))
fields = st.one_of(
    st.none(),
    st.dictionaries(field_names, scalars, max_size=3),
    st.dictionaries(field_names, anything, max_size=2),
)
# Times close together (the encoder keeps the millisecond it last wrote) and far apart.
times = st.one_of(
    st.floats(min_value=NOW, max_value=NOW + 0.01),
    st.floats(min_value=-1e9, max_value=4e9),
    st.sampled_from([0.0, 0.0004, -0.0004, 0.001, NOW]),
)
records = st.lists(st.tuples(names, numbers, fields, times), max_size=25)


@settings(max_examples=300)
@given(records)
def test_any_records_give_the_same_events_as_the_general_way(batch: list) -> None:
    assert_same_as_general(batch)


@given(st.lists(st.tuples(st.one_of(names, anything), anything, fields, times), max_size=10))
def test_whatever_metric_was_given_the_same_events_and_counts(batch: list) -> None:
    assert_same_as_general(batch)


@given(records, st.integers(min_value=1, max_value=4))
def test_full_caches_go_the_general_way_and_stay_bounded(batch: list, size: int) -> None:
    builder = EventBuilder("testapp", {"host": "h1"}, name_cache_size=size)
    encoder = LineEncoder(builder, cache_size=size)
    for _ in range(2):  # the second pass finds the caches full
        data, _, _, _ = encoder.encode(batch)
        assert canonical(data.splitlines()) == canonical(general(EventBuilder("testapp", {"host": "h1"}), batch)[0])
    assert len(encoder._names) <= size
    assert len(encoder._tails) <= size


@given(records, st.dictionaries(st.sampled_from(["host", "node", "region"]), scalars, max_size=3))
def test_any_defaults_and_statsd_mode_value(batch: list, defaults: dict) -> None:
    assert_same_as_general(batch, defaults=defaults)
    assert_same_as_general(batch, defaults=defaults, default_value=None)


def test_the_common_records_are_written_in_the_general_ways_own_bytes() -> None:
    batch = [
        ("latency", 30, None, NOW),
        ("latency", 30.5, {"status": "ok"}, NOW + 0.0001),
        ("latency", None, {"status": "ok", "code": 200}, NOW + 0.002),
        ("testapp.other", -7, {"flag": True, "ratio": 0.25}, NOW + 5),
    ]
    expected, _, _ = general(EventBuilder("testapp", {"host": "h1", "node": "n1"}), batch)
    data, lines, _, _ = LineEncoder(EventBuilder("testapp", {"host": "h1", "node": "n1"}), 100).encode(batch)
    assert data.splitlines() == expected  # byte for byte
    assert lines == 4


def test_fields_equal_in_python_but_not_in_json_are_kept_apart() -> None:
    # 1 == 1.0 == True in Python; a cache keyed by the values would mix them up.
    batch = [("x", 1, {"f": 1}, NOW), ("x", 1, {"f": 1.0}, NOW), ("x", 1, {"f": True}, NOW), ("x", 1, {"f": 0.0}, NOW)]
    batch.append(("x", 1, {"f": -0.0}, NOW))
    assert_same_as_general(batch)
    data, _, _, _ = LineEncoder(EventBuilder("testapp", {}), 100).encode(batch)
    assert [orjson.loads(line)["f"] for line in data.splitlines()] == [1, 1.0, True, 0.0, -0.0]
    assert [type(orjson.loads(line)["f"]) for line in data.splitlines()] == [int, float, bool, float, float]


def test_values_json_cannot_carry_as_numbers() -> None:
    batch = [("x", math.nan, None, NOW), ("x", math.inf, None, NOW), ("x", 2**64, None, NOW), ("x", 1e16, None, NOW)]
    assert_same_as_general(batch)
    data, lines, _, unencodable = LineEncoder(EventBuilder("testapp", {}), 100).encode(batch)
    assert (lines, unencodable) == (3, 1)  # 2**64 is past orjson's range
    assert [orjson.loads(line)["value"] for line in data.splitlines()] == [None, None, 1e16]
