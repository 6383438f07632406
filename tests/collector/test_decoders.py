"""Every decoder: exact results for written-out lines, and fuzzing with arbitrary input."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from influxdb_client import Point, WritePrecision

from collector.decoders import DECODERS, GraphiteDecoder, InfluxDecoder, NumbatDecoder, StatsdDecoder
from collector.events import Batch
from emitter import to_statsd

NOW = 1_700_000_000_000


def decode(decoder, payload: bytes) -> Batch:
    batch = Batch()
    decoder.decode_payload(payload, NOW, batch)
    return batch


# -- numbat ------------------------------------------------------------------------


def test_numbat_keeps_good_lines_around_bad_ones() -> None:
    payload = b'{"name":"a","value":1,"time":5}\nnot json\n[1,2]\n{"value":3}\n{"name":"b","value":"x"}\n{"name":"c"}\n'
    batch = decode(NumbatDecoder(), payload)
    assert batch.events == [{"name": "a", "value": 1, "time": 5}, {"name": "c", "value": 1, "time": NOW}]
    assert [r.reason for r in batch.rejections] == [
        "invalid JSON",
        "not a JSON object",
        "no name",
        "value is not a number",
    ]
    # the first line passes through untouched; the second was completed, so it is re-encoded
    assert batch.raw == [b'{"name":"a","value":1,"time":5}', None]


def test_numbat_normalizes_time() -> None:
    batch = decode(
        NumbatDecoder(),
        b'{"name":"iso","time":"2014-01-01T00:00:00.000Z"}\n{"name":"float","time":12.6}\n'
        b'{"name":"null","time":null}\n{"name":"bad","time":"yesterday"}\n{"name":"obj","time":{}}',
    )
    assert [(e["name"], e["time"]) for e in batch.events] == [("iso", 1388534400000), ("float", 13), ("null", NOW)]
    assert len(batch.rejections) == 2


def test_numbat_json_lines_reuse_exact_lines() -> None:
    batch = decode(NumbatDecoder(), b'{"name":"a","value":1,"time":5,"x":[1]}\n{"name":"b","time":1}')
    assert batch.json_lines() == b'{"name":"a","value":1,"time":5,"x":[1]}\n{"name":"b","time":1,"value":1}\n'


# -- statsd ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "event"),
    [
        (b"hits:1|c", {"name": "hits", "value": 1, "statsd_type": "c"}),
        (b"hits:3|c|@0.1", {"name": "hits", "value": 3, "statsd_type": "c", "rate": 0.1}),
        (
            b"lat:12.5|ms|#env:prod,canary",
            {"name": "lat", "value": 12.5, "statsd_type": "ms", "env": "prod", "canary": True},
        ),
        (b"temp:-3|g", {"name": "temp", "value": -3, "statsd_type": "g", "gauge_delta": True}),
        (b"temp:21|g|T1700000001", {"name": "temp", "value": 21, "statsd_type": "g", "time": 1700000001000}),
        (b"users:alice|s", {"name": "users", "value": "alice", "statsd_type": "s"}),
        (b"size:512|h|c:abc123", {"name": "size", "value": 512, "statsd_type": "h"}),
        (b"x:1|d|#name:sneaky", {"name": "x", "value": 1, "statsd_type": "d"}),
    ],
)
def test_statsd_lines(line: bytes, event: dict) -> None:
    batch = decode(StatsdDecoder(), line)
    assert batch.rejections == []
    assert batch.events == [{"time": NOW, **event}]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"nocolon", "no name"),
        (b":1|c", "no name"),
        (b"x:1", "no type"),
        (b"x:1|q", "unknown statsd type"),
        (b"x:abc|c", "value is not a number"),
        (b"x:1|c|@2", "sample rate is not in (0, 1]"),
        (b"_e{5,4}:title|text", "statsd events and service checks are not metrics"),
        (b"x:nan|g", "value is not finite"),
    ],
)
def test_statsd_rejections(line: bytes, reason: str) -> None:
    batch = decode(StatsdDecoder(), b"good:1|c\n" + line + b"\nalso.good:2|g")
    assert [r.reason for r in batch.rejections] == [reason]
    assert [e["name"] for e in batch.events] == ["good", "also.good"]


def test_statsd_reads_what_our_emitter_writes() -> None:
    line = to_statsd({"name": "app.jobs", "count": 3, "rate": 0.5, "host": "web-1", "region": "eu"})
    batch = decode(StatsdDecoder(), line.encode())
    assert batch.events == [
        {"name": "app.jobs", "value": 3, "time": NOW, "statsd_type": "c", "rate": 0.5, "host": "web-1", "region": "eu"}
    ]


# -- influx ------------------------------------------------------------------------


def test_influx_lines_with_every_escape() -> None:
    line = (
        rb"my\ cpu\,x,host=a\ b,re\=gion=us\,east usage=1.5,count=2i,big=18446744073709551615u,ok=T,"
        rb'msg="say \"hi\", \\ ok" 1465839830100400200'
    )
    batch = decode(InfluxDecoder(), line)
    assert batch.rejections == []
    tags = {"host": "a b", "re=gion": "us,east"}
    time = 1465839830100
    assert batch.events == [
        {"name": "my cpu,x.usage", "value": 1.5, "time": time, **tags},
        {"name": "my cpu,x.count", "value": 2, "time": time, **tags},
        {"name": "my cpu,x.big", "value": 2**64 - 1, "time": time, **tags},
        {"name": "my cpu,x.ok", "value": True, "time": time, **tags},
        {"name": "my cpu,x.msg", "value": 'say "hi", \\ ok', "time": time, **tags},
    ]


def test_influx_value_field_keeps_the_measurement_name_and_precision_applies() -> None:
    batch = decode(InfluxDecoder(precision="s"), b"# a comment\n\nrequests,app=web value=3 1700000000\n")
    assert batch.events == [{"name": "requests", "value": 3.0, "time": 1_700_000_000_000, "app": "web"}]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"justmeasurement", "not line protocol"),
        (b"m field=", "not line protocol"),
        (b"m f=1 notatime", "not line protocol"),
        (b"m f=1x", "bad field value"),
        (b"m f=nan", "bad field value"),
        (b"m f=99999999999999999999i", "integer field out of range"),
        (b"m f=-1u", "integer field out of range"),
        (b'm f="unterminated', "not line protocol"),
    ],
)
def test_influx_rejections(line: bytes, reason: str) -> None:
    batch = decode(InfluxDecoder(), b"ok value=1\n" + line + b"\nok2 value=2")
    assert [r.reason for r in batch.rejections] == [reason]
    assert [e["name"] for e in batch.events] == ["ok", "ok2"]


# Line protocol does not escape backslashes: one before a space or a comma is ambiguous
# to every reader, InfluxDB's own included, so names and tags here carry none.
printable = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\\"), min_size=1, max_size=12
)
tag_text = printable
field_values = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=12),
)


@given(
    measurement=tag_text.filter(lambda s: not s.startswith("#")),
    tags=st.dictionaries(tag_text, tag_text, max_size=3),
    fields=st.dictionaries(tag_text, field_values, min_size=1, max_size=3),
    time=st.integers(min_value=0, max_value=2**62),
)
def test_influx_round_trips_what_influxdb_clients_point_writes(measurement, tags, fields, time) -> None:
    point = Point(measurement).time(time, WritePrecision.NS)
    for key, value in tags.items():
        point.tag(key, value)
    for key, value in fields.items():
        point.field(key, value)
    line = point.to_line_protocol()
    if not line:  # Point writes nothing for what it cannot express (e.g. all tags empty)
        return
    batch = decode(InfluxDecoder(), line.encode())
    assert batch.rejections == [], line
    expected_tags = {k: v for k, v in tags.items() if k not in ("name", "value", "time")}
    got = {e["name"]: e for e in batch.events}
    assert len(batch.events) == len(fields)
    for key, value in fields.items():
        event = got[measurement if key == "value" else f"{measurement}.{key}"]
        assert event["value"] == value or (isinstance(value, int) and float(value) == event["value"])
        assert event["time"] == time // 1_000_000
        assert {k: event[k] for k in expected_tags} == expected_tags


# -- graphite ----------------------------------------------------------------------


def test_graphite_lines() -> None:
    batch = decode(
        GraphiteDecoder(),
        b"servers.web1.load 0.42 1700000000\nnow.metric 3\nneg.time 1 -1\ntagged;dc=ams;role=db 7 1700000001\n"
        b"bad.value abc 1\ntoo many parts 1 2 3\ntag;oops 1 1\n",
    )
    assert batch.events == [
        {"name": "servers.web1.load", "value": 0.42, "time": 1_700_000_000_000},
        {"name": "now.metric", "value": 3, "time": NOW},
        {"name": "neg.time", "value": 1, "time": NOW},
        {"name": "tagged", "value": 7, "time": 1_700_000_001_000, "dc": "ams", "role": "db"},
    ]
    assert [r.reason for r in batch.rejections] == [
        "value is not a number",
        "not 'path value [timestamp]'",
        "tag is not key=value",
    ]


# -- every decoder: fuzzing --------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(DECODERS))
@given(payload=st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(fmt: str, payload: bytes) -> None:
    batch = decode(DECODERS[fmt](), payload)
    for event in batch.events:
        assert isinstance(event["name"], str)
        assert event["name"]
        assert isinstance(event["time"], int)
    assert len(batch.raw) == len(batch.events)


line_like = st.lists(
    st.one_of(
        st.text(alphabet=' ,=:|#@."\\abcT0123456789e-+it\t', max_size=40),
        st.text(max_size=20),
    ),
    max_size=8,
).map(lambda parts: "\n".join(parts).encode())


@pytest.mark.parametrize("fmt", sorted(DECODERS))
@given(payload=line_like)
def test_near_miss_text_never_raises(fmt: str, payload: bytes) -> None:
    batch = decode(DECODERS[fmt](), payload)
    assert len(batch.events) + len(batch.rejections) <= max(1, payload.count(b"\n") + 1) * 64


scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.booleans(),
    st.none(),
)


@given(
    name=st.text(min_size=1),
    value=st.one_of(
        st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(allow_nan=False, allow_infinity=False)
    ),
    time=st.integers(min_value=0, max_value=2**53),
    extra=st.dictionaries(st.text(), scalars, max_size=5),
)
def test_valid_numbat_events_round_trip(name, value, time, extra) -> None:
    event = {**extra, "name": name, "value": value, "time": time}
    batch = decode(NumbatDecoder(), orjson.dumps(event) + b"\n")
    assert batch.events == [event]
    assert orjson.loads(batch.json_lines()) == event


def test_iso_time_without_zone_is_utc() -> None:
    batch = decode(NumbatDecoder(), b'{"name":"x","time":"2020-01-01T00:00:00"}')
    assert batch.events[0]["time"] == int(dt.datetime(2020, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
