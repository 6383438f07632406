"""The InfluxDB encoder: byte for byte what influxdb-client's Point writes, on any input."""

from __future__ import annotations

import math
from collections.abc import Callable

from hypothesis import assume, given
from hypothesis import strategies as st
from influxdb_client import Point, WritePrecision

from collector.sinks.influxdb._lineprotocol import RESERVED, LineEncoder, _tag_text, sanitize_key
from collector.wire import Batch
from collector.wire._influx import InfluxDecoder

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    text,
)


def admit_at_most(limit: int) -> Callable[[str, str], str | None]:
    """A cardinality guard of ``limit`` series per measurement: None admits, else the reason."""
    admitted: dict[str, set[str]] = {}

    def admit(name: str, series: str) -> str | None:
        known = admitted.setdefault(name, set())
        if series in known or len(known) < limit:
            known.add(series)
            return None
        return "cardinality"

    return admit


def point_for(event: dict, integers_as_floats: bool = True) -> str:
    """The reference: numbat's mapping spelled out with Point."""
    point = Point(event["name"])
    for key, raw in event.items():
        if key not in RESERVED and raw is not None and isinstance(raw, str | int | float | bool):
            point.tag(sanitize_key(key), raw if isinstance(raw, str) else _tag_text(raw))
    value = event.get("value")
    if integers_as_floats and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if value is not None:
        point.field("value", value)
    point.time(event["time"], WritePrecision.MS)
    return point.to_line_protocol()


@given(
    name=text.filter(lambda s: s and not s.startswith("#") and not s.endswith("\\")),
    value=scalars,
    time=st.integers(min_value=0, max_value=2**62),
    extra=st.dictionaries(text, st.one_of(scalars, st.lists(st.integers(), max_size=2)), max_size=6),
    integers_as_floats=st.booleans(),
)
def test_lines_equal_what_point_writes(name, value, time, extra, integers_as_floats) -> None:
    event = {**extra, "name": name, "value": value, "time": time}
    encoder = LineEncoder(integers_as_floats=integers_as_floats)
    expected = point_for(event, integers_as_floats)
    for _ in range(2):  # the second time from the series cache
        encoded = encoder.encode(event)
        if not expected:
            assert encoded is None
        else:
            assert encoded is not None
            series, line = encoded
            assert line == expected
            assert line.startswith(series + " ")


@given(
    st.lists(
        st.fixed_dictionaries(
            {"name": st.sampled_from(["a", "b", "heartbeat", "#x"]), "value": scalars, "time": st.integers(0, 9)},
            optional={
                "host": st.sampled_from(["h1", "h2"]),
                "flag": st.sampled_from([True, 1, 1.0, "1"]),
                "junk": st.lists(st.integers(), max_size=1),
            },
        ),
        max_size=30,
    ),
    st.integers(min_value=1, max_value=4),
)
def test_encode_all_is_encode_with_skip_and_admission(events, limit) -> None:
    encoder = LineEncoder(skip=lambda name: name == "heartbeat", admit=admit_at_most(limit))
    reference_admitted: dict[str, set[str]] = {}
    expected, left_out = [], {"skipped": 0, "no line": 0}
    for event in events:
        if event["name"] == "heartbeat":
            left_out["skipped"] += 1
            continue
        encoded = LineEncoder().encode(event)
        if encoded is None:
            left_out["no line"] += 1
            continue
        known = reference_admitted.setdefault(event["name"], set())
        if encoded[0] not in known and len(known) >= limit:
            left_out["cardinality"] = left_out.get("cardinality", 0) + 1
            continue
        known.add(encoded[0])
        expected.append(encoded[1].encode())
    for _ in range(2):  # and again, now mostly from the cache: the guard remembers, so the same
        assert encoder.encode_all(events) == (expected, left_out)


@given(st.lists(st.sampled_from([True, False, 1, 0, 1.0, 0.0, "1", "true"]), min_size=1, max_size=8))
def test_the_series_cache_never_confuses_true_with_one(values) -> None:
    encoder = LineEncoder()
    for flag in values:
        event = {"name": "m", "value": 1.5, "time": 1, "flag": flag}
        assert encoder.encode(event)[1] == point_for(event)  # type: ignore[index]


def test_configured_fields_and_tags() -> None:
    encoder = LineEncoder(fields=["ratio", "note"], tags=["host"])
    event = {"name": "jobs", "value": 3, "time": 5, "host": "h1", "dc": "ams", "ratio": 0.5, "note": "a b"}
    assert encoder.encode(event) == ("jobs,host=h1", 'jobs,host=h1 note="a b",ratio=0.5,value=3 5')


def test_events_with_nothing_to_write_or_a_comment_name_give_no_line() -> None:
    encoder = LineEncoder()
    assert encoder.encode({"name": "x", "value": None, "time": 1}) is None
    assert encoder.encode({"name": "x", "value": math.nan, "time": 1}) is None
    assert encoder.encode({"name": "#x", "value": 1, "time": 1}) is None
    assert encoder.encode({"name": "x\\", "value": 1, "time": 1}) is None


@given(
    name=st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs")), min_size=1, max_size=12).filter(
        lambda s: not s.startswith("#") and not s.endswith("\\")
    ),
    value=st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.booleans()),
    tags=st.dictionaries(st.text("abcxyz_.-", min_size=1, max_size=5), text.filter(bool), max_size=4),
)
def test_our_decoder_reads_back_what_the_encoder_writes(name, value, tags) -> None:
    assume("\n" not in name and "\r" not in name and "\t" not in name)
    assume(all("\n" not in v and "\r" not in v and "\t" not in v for v in tags.values()))
    # Line protocol does not escape backslashes, so a backslash before a space or comma is
    # ambiguous to every reader (InfluxDB's own included): leave them out of this round trip.
    assume("\\" not in name and all("\\" not in v for v in tags.values()))
    event = {"name": name, "value": value, "time": 1_700_000_000_000, **tags}
    encoded = LineEncoder().encode(event)
    assert encoded is not None
    batch = Batch()
    InfluxDecoder(precision="ms").decode([encoded[1].encode()], 0, batch)
    assert batch.rejections == [], encoded[1]
    tags_kept = {k: v for k, v in tags.items() if k not in RESERVED}
    assert batch.events == [{"name": name, "value": value, "time": 1_700_000_000_000, **tags_kept}]


@given(
    st.lists(
        st.tuples(
            st.one_of(
                st.floats(),
                st.floats(min_value=1e-7, max_value=1e-3),  # where orjson's notation and repr's part
                st.integers(min_value=-(2**60), max_value=2**60).map(float),  # whole floats
                st.integers(min_value=-(2**60), max_value=2**60),
            ),
            st.one_of(st.integers(min_value=0, max_value=2**62), st.integers(min_value=2**64, max_value=2**70)),
        ),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(["web-1", "with space", 'quote"d']),
)
def test_runs_of_known_series_are_written_as_point_writes_them(numbers, host) -> None:
    """Known series are formatted a run at a time (orjson writes the numbers): every float
    notation, whole floats, non-finite values, large integers and times beyond 64 bits."""
    encoder = LineEncoder()
    events = [{"name": "m", "value": value, "time": time, "host": host} for value, time in numbers]
    expected = [point_for(event).encode() for event in events]
    for _ in range(2):  # first teaching the cache, then from it
        lines, left_out = encoder.encode_all(events)
        assert lines == [line for line in expected if line]
        assert left_out["no line"] == expected.count(b"")


def test_events_of_several_shapes_keep_their_order() -> None:
    encoder = LineEncoder()
    events = [
        {"name": "a", "value": 1.5, "time": 1, "host": "h"},
        {"name": "b", "time": 2, "value": 2, "region": "r", "host": "h"},
        {"name": "a", "value": 3, "time": 3, "dc": "x"},
        {"name": "heartbeat", "value": 1, "time": 4},
        {"name": "a", "value": 4.25, "time": 5, "host": "h"},
    ]
    expected = [point_for(event).encode() for event in events]
    for _ in range(3):
        assert encoder.encode_all(events)[0] == expected


#: Statistics of each summary kind, spelled out (the encoder recognises them by pattern).
STATISTICS = {
    "counter": ["count", "rate"],
    "gauge": ["value"],
    "set": ["count"],
    "timer": [
        "count",
        "count_ps",
        "lower",
        "upper",
        "mean",
        "median",
        "std",
        "sum",
        "sum_squares",
        "mean_90",
        "upper_90",
        "sum_90",
        "count_90",
        "sum_squares_90",
        "mean_99_9",
        "upper_99_9",
        "count_99_9",
        "mean_top5",
        "lower_top5",
        "sum_top5",
        "count_top5",
        "bin_0_5",
        "bin_100",
        "bin_inf",
    ],
}
statistic_values = st.one_of(
    st.integers(min_value=-(2**53), max_value=2**53), st.floats(allow_nan=False, allow_infinity=False)
)


@st.composite
def summaries(draw: st.DrawFn) -> tuple[dict, list[str]]:
    """A summary as the aggregation core writes it, and which of its keys are statistics."""
    kind = draw(st.sampled_from(sorted(STATISTICS)))
    statistics = draw(st.lists(st.sampled_from(STATISTICS[kind]), min_size=1, unique=True))
    keys = draw(st.dictionaries(st.sampled_from(["host", "route", "status", "flag", "key_count"]), scalars, max_size=3))
    event = {"name": draw(st.sampled_from(["app.requests", "web lat,ency"])), "time": draw(st.integers(0, 2**50))}
    event |= {"kind": kind, **keys, **{key: draw(statistic_values) for key in statistics}}
    return event, statistics


def summary_point(event: dict, statistics: list[str]) -> str:
    """The reference: a field per statistic (integers as floats), every other scalar a tag."""
    point = Point(event["name"])
    for key, raw in event.items():
        if key in statistics:
            point.field(key, float(raw))
        elif key not in ("name", "time") and raw is not None:
            point.tag(key, raw if isinstance(raw, str) else _tag_text(raw))
    point.time(event["time"], WritePrecision.MS)
    return point.to_line_protocol()


@given(st.lists(summaries(), min_size=1, max_size=10))
def test_a_summary_is_one_point_with_a_field_per_statistic(drawn) -> None:
    encoder = LineEncoder(summaries=True)
    events = [event for event, _ in drawn]
    expected = [summary_point(event, statistics).encode() for event, statistics in drawn]
    for _ in range(2):
        lines, left_out = encoder.encode_all(events)
        assert lines == [line for line in expected if line]
        assert left_out["no line"] == expected.count(b"")


def test_summaries_are_points_only_for_a_sink_that_takes_them() -> None:
    summary = {"name": "app.requests", "time": 10_000, "kind": "counter", "host": "h1", "count": 12, "rate": 1.2}
    assert LineEncoder(summaries=True).encode(summary) == (
        "app.requests,host=h1,kind=counter",
        "app.requests,host=h1,kind=counter count=12,rate=1.2 10000",
    )
    # a raw sink writes an event that looks like one as it writes every event: no value, no line
    assert LineEncoder().encode(summary) is None
    # a summary sink writes an event of no summary kind the usual way
    event = {"name": "x", "value": 2, "time": 1, "kind": "other"}
    assert LineEncoder(summaries=True).encode(event) == ("x,kind=other", "x,kind=other value=2 1")
    timer = {"name": "t", "time": 1, "kind": "timer", "upper_90": 9.5, "mean_top5": 1, "bin_0_5": 3, "route": "/a"}
    assert LineEncoder(summaries=True, fields=["route"], tags=["kind"]).encode(timer) == (
        "t,kind=timer",
        't,kind=timer bin_0_5=3,mean_top5=1,route="/a",upper_90=9.5 1',
    )
