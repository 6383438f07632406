"""Every decoder: exact results for written-out lines, and fuzzing with arbitrary input."""

from __future__ import annotations

import datetime as dt
import math
import re

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from influxdb_client import Point, WritePrecision

from collector.wire import FORMATS, TIME_RANGE_MS, Batch, decoder_for
from collector.wire._graphite import GraphiteDecoder
from collector.wire._influx import InfluxDecoder
from collector.wire._numbat import NumbatDecoder
from collector.wire._statsd import StatsdDecoder
from emitter import to_statsd
from emitter.event import complete_event

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
    # the first line passes through untouched; the second was completed, so it was encoded
    # again, once, for every sink
    assert batch.raw == [b'{"name":"a","value":1,"time":5}', orjson.dumps(batch.events[1])]


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
        (b"x:nan|g", "value is not a number"),
        (b"x:1e999|g", "value is not finite"),
        (b"x:1_000|c", "value is not a number"),
        ("x:\u0663|c".encode(), "value is not a number"),
        (b"x:1|c|T99999999999999", "time out of range"),
        (b"x:1|c|@0.5x", "sample rate is not a number"),
        (b"x,oops:1|c", "tag is not key=value"),
        (b"_e{5,9}:title|text", "event title or text is not as long as its header says"),
        (b"_e{a,4}:title|text", "event header is not _e{title_length,text_length}:"),
        (b"_sc|check|7", "service check status is not 0, 1, 2 or 3"),
        (b"_sc|check", "service check is not _sc|name|status"),
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


# -- one place picks the decoder ------------------------------------------------------


def test_decoder_for_names_each_format_and_refuses_others() -> None:
    assert [decoder_for(fmt).format for fmt in FORMATS] == list(FORMATS)
    assert decoder_for("influx", "s") is decoder_for("influx", "s")  # stateless: one per format and precision
    second = decode(decoder_for("influx", "s"), b"m value=1 1700000000")
    assert second.events[0]["time"] == 1_700_000_000_000
    with pytest.raises(ValueError, match="unknown format 'json'"):
        decoder_for("json")
    with pytest.raises(ValueError, match="unknown precision 'fortnight'"):
        decoder_for("influx", "fortnight")


# -- every decoder: fuzzing --------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@given(payload=st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(fmt: str, payload: bytes) -> None:
    batch = decode(decoder_for(fmt), payload)
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


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@given(payload=line_like)
def test_near_miss_text_never_raises(fmt: str, payload: bytes) -> None:
    batch = decode(decoder_for(fmt), payload)
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
    time=st.integers(min_value=TIME_RANGE_MS[0], max_value=TIME_RANGE_MS[1]),
    extra=st.dictionaries(st.text(), scalars, max_size=5),
)
def test_valid_numbat_events_round_trip(name, value, time, extra) -> None:
    event = {**extra, "name": name, "value": value, "time": time}
    batch = decode(NumbatDecoder(), orjson.dumps(event) + b"\n")
    assert batch.events == [event]
    assert orjson.loads(batch.json_lines()) == event


ABSENT = object()


@given(
    value=st.one_of(
        st.just(ABSENT),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
    ),
    time=st.one_of(st.just(ABSENT), st.none(), st.integers(min_value=TIME_RANGE_MS[0], max_value=TIME_RANGE_MS[1])),
    extra=st.dictionaries(st.text().filter(lambda key: key not in ("name", "value", "time")), scalars, max_size=4),
)
def test_numbat_completes_an_event_by_the_emitters_rules(value, time, extra) -> None:
    """numbat's defaults have one definition (emitter.event.complete_event): an event the
    decoder completes is what the emitter's rules make of it, and what they say in words:
    value 1, time the moment of arrival (also for a null time)."""
    sent = {"name": "app.x", **extra}
    if value is not ABSENT:
        sent["value"] = value
    if time is not ABSENT:
        sent["time"] = time
    batch = decode(NumbatDecoder(), orjson.dumps(sent))
    in_words = {**sent, "value": sent.get("value", 1), "time": NOW if sent.get("time") is None else sent["time"]}
    assert batch.events == [in_words] == [complete_event(dict(sent), NOW)]
    assert orjson.loads(batch.json_lines()) == in_words


def test_iso_time_without_zone_is_utc() -> None:
    batch = decode(NumbatDecoder(), b'{"name":"x","time":"2020-01-01T00:00:00"}')
    assert batch.events[0]["time"] == int(dt.datetime(2020, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)


# -- only what every sink can carry -------------------------------------------------


def test_numbat_refuses_times_no_store_holds_and_values_that_are_null() -> None:
    payload = (
        b'{"name":"good","value":1,"time":1700000000000}\n'
        b'{"name":"far","value":1,"time":1e30}\n'
        b'{"name":"far.int","value":1,"time":9223372036854776}\n'
        b'{"name":"nan","value":null,"time":1700000000000}\n'
        b'{"name":"ok.too","value":2}\n'
    )
    batch = decode(NumbatDecoder(), payload)
    assert [e["name"] for e in batch.events] == ["good", "ok.too"]
    assert [r.reason for r in batch.rejections] == [
        "time out of range",
        "time out of range",
        "value is null (NaN or infinite at the sender)",
    ]


def test_numbat_refuses_what_cannot_be_encoded_again_and_passes_deep_lines_as_sent() -> None:
    deep = b"[" * 300 + b"]" * 300
    complete = b'{"name":"deep.complete","value":1,"time":5,"x":' + deep + b"}"
    incomplete = b'{"name":"deep.incomplete","x":' + deep + b"}"
    batch = decode(NumbatDecoder(), complete + b"\n" + incomplete + b'\n{"name":"next"}')
    assert [e["name"] for e in batch.events] == ["deep.complete", "next"]
    assert [r.reason for r in batch.rejections] == ["nested too deeply to encode"]
    assert batch.json_lines().split(b"\n")[0] == complete  # passed on as it arrived


def test_out_of_range_numbers_and_times_in_the_text_formats() -> None:
    big = "123456789012345678901234567890"
    statsd = decode(StatsdDecoder(), f"good:1|c\nbad:{big}|c\ngood:1|c".encode())
    assert [e["value"] for e in statsd.events] == [1, float(big), 1]  # read as statsd reads it: a double
    graphite = decode(GraphiteDecoder(), f"a {big} 1700000000\nb 1 1e300\nc 1 1700000000".encode())
    assert [e["name"] for e in graphite.events] == ["a", "c"]
    assert [r.reason for r in graphite.rejections] == ["time out of range"]
    influx = decode(InfluxDecoder(precision="s"), b"a value=1 1700000000\nb value=1 1700000000000000000\nc value=1e400")
    assert [e["name"] for e in influx.events] == ["a"]
    assert [r.reason for r in influx.rejections] == ["time out of range", "value is not finite"]


def test_every_decoded_event_can_be_encoded_by_every_json_sink() -> None:
    payload = "\n".join(
        [
            "x:123456789012345678901234567890|c",
            "y:18446744073709551616|g",
            "z:-99999999999999999999|ms",
            "w:1|c|T1700000000.5",
        ]
    ).encode()
    batch = decode(StatsdDecoder(), payload)
    assert len(batch.events) == 4
    assert len(batch.json_lines().splitlines()) == 4


# -- the number grammar, fed every character class ------------------------------------

_DECIMAL_CHARACTERS = frozenset("0123456789+-.eE")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def reference_decimal(text: str) -> bool:
    """Independent of the decoders: ASCII decimal characters only, and a finite float."""
    if not text or not set(text) <= _DECIMAL_CHARACTERS:
        return False
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def number_texts(forbidden: str) -> st.SearchStrategy[str]:
    """Texts near numbers and far from them, with characters of every Unicode category:
    most are a plain number with one character of any class put somewhere in it."""
    anything = st.characters(blacklist_categories=("Cs",), blacklist_characters=forbidden)
    tricky = st.sampled_from(["\u0663", "\u0969", "\uff11", "\u00b2", "_", "\u2007", "\u00a0", "i", "n", "x"])
    number = st.from_regex(r"\A[+-]?[0-9]{0,4}(\.[0-9]{0,3})?([eE][+-]?[0-9]{1,3})?\Z")
    one_in = st.tuples(number, st.one_of(anything, tricky), st.integers(0, 8)).map(
        lambda parts: parts[0][: parts[2]] + parts[1] + parts[0][parts[2] :]
    )
    return st.one_of(number.filter(bool), one_in, st.text(anything, min_size=1, max_size=8))


@given(text=number_texts(forbidden=":|,\n\r#@"))
def test_statsd_numbers_follow_the_grammar_exactly(text: str) -> None:
    batch = decode(StatsdDecoder(), f"x:{text}|ms".encode())
    assert (len(batch.events) == 1) == reference_decimal(text), batch.rejections


@given(text=number_texts(forbidden=" \t\n\r;\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u3000\u202f\u205f"))
def test_graphite_numbers_follow_the_grammar_exactly(text: str) -> None:
    if any(character.isspace() for character in text):
        return  # whitespace separates graphite's fields
    batch = decode(GraphiteDecoder(), f"x {text} 1700000000".encode())
    assert (len(batch.events) == 1) == reference_decimal(text), batch.rejections


def reference_influx_value(text: str) -> bool:
    if text in ("t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE"):
        return True
    if text[-1:] in ("i", "u"):
        digits = text[:-1]
        if not digits or not set(digits) <= set("0123456789+-") or "+" in digits[1:] or "-" in digits[1:]:
            return False
        if digits in ("+", "-"):
            return False
        number = int(digits)
        return -(2**63) <= number < 2**63 if text[-1] == "i" else 0 <= number < 2**64
    return reference_decimal(text)


@given(text=number_texts(forbidden=' ,="\\\n\r'))
def test_line_protocol_numbers_follow_the_grammar_exactly(text: str) -> None:
    if text.strip() != text or "\t" in text:
        return  # surrounding blanks belong to the line, not to the value
    batch = decode(InfluxDecoder(), f"m f={text} 1700000000000000000".encode())
    assert (len(batch.events) == 1) == reference_influx_value(text), batch.rejections


@given(text=number_texts(forbidden='\\"\n\r,}{[]'))
@example(text="true")
@example(text=" false")
@example(text="True")
def test_numbat_numbers_follow_the_json_grammar_exactly(text: str) -> None:
    line = f'{{"name":"x","value":{text},"time":1}}'.encode()
    batch = decode(NumbatDecoder(), line)
    plain = text.strip(" \t")
    number = bool(_JSON_NUMBER.fullmatch(plain)) and math.isfinite(float(plain))
    boolean = plain in ("true", "false")  # a boolean value is taken too, as 1 or 0 (README)
    assert (len(batch.events) == 1) == (number or boolean), batch.rejections


# -- the forms real statsd clients send --------------------------------------------------


def test_dogstatsd_packed_values_share_type_rate_and_tags() -> None:
    batch = decode(StatsdDecoder(), b"lat:1:2.5:3|d|@0.5|#env:prod")
    common = {"name": "lat", "time": NOW, "statsd_type": "d", "rate": 0.5, "env": "prod"}
    assert batch.events == [{**common, "value": 1}, {**common, "value": 2.5}, {**common, "value": 3}]


def test_influx_style_tags_in_the_name_as_telegraf_and_hot_shots_send() -> None:
    batch = decode(StatsdDecoder(), b"requests,region=eu,code=200:1|c|#env:prod")
    assert batch.events == [
        {"name": "requests", "value": 1, "time": NOW, "statsd_type": "c", "env": "prod", "region": "eu", "code": "200"}
    ]


def test_dogstatsd_events_and_service_checks() -> None:
    title, text = "Déployé", "v1.2\\nrolled out"
    header = f"_e{{{len(title.encode())},{len(text.encode())}}}"
    event_line = f"{header}:{title}|{text}|d:1700000000|h:web-1|p:low|t:warning|#team:ops"
    checks = "_sc|db.replication|2|d:1700000001|h:db-1|#role:primary|m:lag 30 s | too far\n_sc|db.ok|0"
    batch = decode(StatsdDecoder(), (event_line + "\n" + checks).encode())
    assert batch.rejections == []
    assert batch.events == [
        {
            "name": "event",
            "value": 1,
            "time": 1_700_000_000_000,
            "statsd_type": "e",
            "title": title,
            "description": "v1.2\nrolled out",
            "host": "web-1",
            "priority": "low",
            "alert_type": "warning",
            "team": "ops",
        },
        {
            "name": "db.replication",
            "value": 2,
            "time": 1_700_000_001_000,
            "statsd_type": "sc",
            "status": "critical",
            "description": "lag 30 s | too far",
            "host": "db-1",
            "role": "primary",
        },
        {"name": "db.ok", "value": 0, "time": NOW, "statsd_type": "sc", "status": "ok"},
    ]


@given(
    name=st.text(st.characters(blacklist_characters="|\n\r#", blacklist_categories=("Cs",)), min_size=1, max_size=20),
    status=st.sampled_from(["0", "1", "2", "3"]),
    host=st.none() | st.text(st.characters(blacklist_characters="|\n\r", blacklist_categories=("Cs",)), max_size=10),
    message=st.none() | st.text(st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=30),
)
def test_service_checks_round_trip(name: str, status: str, host: str | None, message: str | None) -> None:
    line = (
        f"_sc|{name}|{status}"
        + (f"|h:{host}" if host is not None else "")
        + (f"|m:{message}" if message is not None else "")
    )
    if line != line.strip() or "|m:" in line.partition("|m:")[2] or (message is None and "|m:" in line):
        return  # blanks around a line are not part of it; a second "|m:" is the message's own text
    batch = decode(StatsdDecoder(), line.encode())
    assert batch.rejections == [], line
    (event,) = batch.events
    assert event["name"] == name
    assert event["status"] == {"0": "ok", "1": "warning", "2": "critical", "3": "unknown"}[status]
    if host is not None:
        assert event["host"] == host
    assert event.get("description") == message
