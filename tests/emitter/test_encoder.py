"""The sender's line encoder against the general way (a dict per event, orjson each):
for any record, the same events, in the same order, with the same counts.

Records are written here as metric()'s arguments, ``(name, value, fields, time)``, and
turned into what metric() records by :func:`recorded` (one field as its key and value);
the records metric() itself makes are checked by test_metric_records_what_the_encoder_reads.
"""

from __future__ import annotations

import decimal
import enum
import math
import socket
import time
from collections.abc import Iterator

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emitter import Emitter
from emitter._encoder import LineEncoder
from emitter._wire import encode_batch, encode_json
from emitter.event import EventBuilder

NOW = 1_700_000_000.1234


class Colour(enum.Enum):
    RED = "red"


def recorded(records: list) -> list:
    """``(name, value, fields, time)`` as metric() records them: ``(name, value, fields, given,
    time)``, with no fields as None and one field as its key and value."""
    out = []
    for name, value, fields, called_at in records:
        if not fields:
            out.append((name, value, None, None, called_at))
        elif len(fields) == 1:
            ((key, given),) = fields.items()
            out.append((name, value, key, given, called_at))
        else:
            out.append((name, value, fields, None, called_at))
    return out


def general(builder: EventBuilder, records: list) -> tuple[list[bytes], int, int]:
    """What the emitter sent before the line encoder: build_all, then orjson per event.
    ``records`` are metric()'s arguments, ``(name, value, fields, time)``."""
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
    data, lines, got_invalid, got_unencodable = encoder.encode(recorded(records))
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
        data, _, _, _ = encoder.encode(recorded(batch))
        assert canonical(data.splitlines()) == canonical(general(EventBuilder("testapp", {"host": "h1"}), batch)[0])
    assert len(encoder._names) <= size
    assert len(encoder._tails) <= size
    assert sum(map(len, encoder._pairs.values())) == encoder._pairs_size <= size


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
    data, lines, _, _ = LineEncoder(EventBuilder("testapp", {"host": "h1", "node": "n1"}), 100).encode(recorded(batch))
    assert data.splitlines() == expected  # byte for byte
    assert lines == 4


def test_fields_equal_in_python_but_not_in_json_are_kept_apart() -> None:
    # 1 == 1.0 == True in Python; a cache keyed by the values would mix them up.
    batch = [("x", 1, {"f": 1}, NOW), ("x", 1, {"f": 1.0}, NOW), ("x", 1, {"f": True}, NOW), ("x", 1, {"f": 0.0}, NOW)]
    batch.append(("x", 1, {"f": -0.0}, NOW))
    assert_same_as_general(batch)
    data, _, _, _ = LineEncoder(EventBuilder("testapp", {}), 100).encode(recorded(batch))
    assert [orjson.loads(line)["f"] for line in data.splitlines()] == [1, 1.0, True, 0.0, -0.0]
    assert [type(orjson.loads(line)["f"]) for line in data.splitlines()] == [int, float, bool, float, float]


def test_values_json_cannot_carry_as_numbers() -> None:
    batch = [("x", math.nan, None, NOW), ("x", math.inf, None, NOW), ("x", 2**64, None, NOW), ("x", 1e16, None, NOW)]
    assert_same_as_general(batch)
    data, lines, _, unencodable = LineEncoder(EventBuilder("testapp", {}), 100).encode(recorded(batch))
    assert (lines, unencodable) == (3, 1)  # 2**64 is past orjson's range
    assert [orjson.loads(line)["value"] for line in data.splitlines()] == [None, None, 1e16]


class Level(enum.IntEnum):
    ONE = 1


class Mood(enum.StrEnum):
    OK = "ok"


class Unhashable:
    __hash__ = None  # type: ignore[assignment]


class HashRaises:
    def __hash__(self) -> int:
        raise ValueError("no hash")


# Values equal in Python and apart in JSON (1, 1.0, True, "1", an IntEnum; 0.0 and -0.0),
# a str subclass, ints past orjson's range: the one-field lookup (by key, then value) must
# never take one for another, whichever of them it met first.
equal_apart = st.sampled_from(
    [1, 1.0, True, "1", Level.ONE, 0, 0.0, -0.0, False, "", "ok", Mood.OK, 2**64, -(2**63) - 1]
)
one_field_values = st.one_of(
    equal_apart,
    st.sampled_from([math.nan, math.inf, None, decimal.Decimal("1"), Colour.RED]),
    st.builds(Unhashable),  # values that cannot be looked up at all
    st.builds(HashRaises),
    st.builds(list),
    scalars,
)
one_field_keys = st.sampled_from(["f", "g", "", "host", "name", "time", "é", "\ud800"])


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(st.sampled_from(["x", "y"]), numbers, st.dictionaries(st.just("f"), equal_apart, min_size=1), times),
        max_size=30,
    )
)
def test_one_field_values_equal_in_python_are_kept_apart(batch: list) -> None:
    assert_same_as_general(batch)


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["x", "y"]),
            numbers,
            st.dictionaries(one_field_keys, one_field_values, min_size=1, max_size=1),
            times,
        ),
        max_size=30,
    )
)
def test_one_field_records_give_the_same_events_as_the_general_way(batch: list) -> None:
    assert_same_as_general(batch)


@given(
    st.lists(
        st.tuples(
            st.just("x"),
            st.just(1),
            st.dictionaries(one_field_keys, one_field_values, min_size=1, max_size=1),
            st.just(NOW),
        ),
        max_size=20,
    )
)
def test_one_field_lookups_survive_a_second_batch_and_a_full_cache(batch: list) -> None:
    for size in (1, 10_000):
        encoder = LineEncoder(EventBuilder("testapp", {"host": "h1"}), cache_size=size)
        expected = canonical(general(EventBuilder("testapp", {"host": "h1"}), batch)[0])
        for _ in range(2):  # the second pass finds what the first cached
            data, _, _, _ = encoder.encode(recorded(batch))
            assert canonical(data.splitlines()) == expected
        assert encoder._pairs_size <= size


@pytest.fixture(scope="module")
def parked() -> Iterator[Emitter]:
    """An emitter whose collector refuses connections: what metric() records stays in its backlog."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        e = Emitter(f"tcp://127.0.0.1:{closed.getsockname()[1]}", app="testapp", host="h1", backoff_base=5.0)
        yield e
        e.close(timeout=0.1)


@settings(max_examples=200)
@given(
    names,
    numbers,
    st.one_of(st.dictionaries(field_names, scalars, max_size=3), st.dictionaries(field_names, anything, max_size=1)),
)
def test_metric_records_what_the_encoder_reads(parked: Emitter, name: str, value: object, fields: dict) -> None:
    backlog = parked._sender.backlog
    backlog.clear()
    given_fields = dict(fields)
    before = time.time()
    parked.metric(name, value, **fields)  # type: ignore[arg-type]
    assert fields == given_fields  # the caller's dict is never changed
    (record,) = backlog
    called_at = record[-1]
    assert before <= called_at <= time.time()
    data, _, _, _ = LineEncoder(EventBuilder("testapp", {"host": "h1"}), 10_000).encode([record])
    expected, _, _ = general(EventBuilder("testapp", {"host": "h1"}), [(name, value, fields, called_at)])
    assert canonical(data.splitlines()) == canonical(expected)
