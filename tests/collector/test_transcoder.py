"""The compiled JSON-to-line-protocol path: the LineEncoder's lines, on any input."""

from __future__ import annotations

import json
from itertools import pairwise

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.sinks.influxdb import LineEncoder, _transcoder
from collector.sinks.influxdb._transcoder import JsonLineTranscoder, Lines
from collector.wire import Batch
from collector.wire._numbat import NumbatDecoder
from collector.wire._numbat_scan import decode_scanned

from .test_lineprotocol import admit_at_most


def skip_heartbeats(name: str) -> bool:
    return name == "heartbeat"


def decoded(lines: list[bytes]) -> Batch:
    batch = Batch()
    NumbatDecoder().decode(lines, 1_700_000_000_000, batch)
    return batch


def assert_same_lines(batches: list[Batch], limit: int = 1000, learn: int = 100_000) -> JsonLineTranscoder:
    """Each batch in turn through a transcoder and through a LineEncoder alike
    configured: the same body, the same counts of what was left out."""
    reference = LineEncoder(skip=skip_heartbeats, admit=admit_at_most(limit))
    transcoder = JsonLineTranscoder(LineEncoder(skip=skip_heartbeats, admit=admit_at_most(limit)), learn)
    for batch in batches:
        expected, expected_left_out = reference.encode_all(batch.events)
        lines, left_out = transcoder.encode_all(batch.events, batch.raw)
        assert lines.body == b"\n".join(expected)
        assert len(lines) == len(expected)
        assert [lines.body[:end].rpartition(b"\n")[2] for end in lines.ends] == expected
        assert left_out == expected_left_out
    return transcoder


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
names = st.one_of(st.sampled_from(["web.latency", "heartbeat", "#comment", "a b,c", "x\\"]), text.filter(bool))
tag_values = st.one_of(
    st.sampled_from(["web-1", "web-2", "", 'a"q', "é", "back\\slash"]),
    text,
    st.booleans(),
    st.none(),
    st.integers(-(2**70), 2**70),
    st.floats(),
)
numbers = st.one_of(
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1, -1, 0.5, 1.0, -0.0, 1e-4, 1e-5, 1e15, 1e16, 123456789012345, 1234567890123456]),
)
events = st.fixed_dictionaries(
    {"name": names, "value": numbers, "time": st.one_of(st.integers(0, 2**62), st.integers(-5, 5))},
    optional={
        "host": tag_values,
        "route": tag_values,
        "value2": numbers,
        "nested": st.lists(st.integers(), max_size=2),
    },
)


def compact(event: dict) -> bytes:
    """As orjson writes it, or as json does beyond orjson's 64-bit integers."""
    try:
        return orjson.dumps(event)
    except TypeError:
        return json.dumps(event, separators=(",", ":")).encode()


serializers = st.sampled_from([
    compact,
    lambda event: json.dumps(event).encode(),  # spaces after ":" and ","
    lambda event: json.dumps(event, ensure_ascii=False).encode(),
    lambda event: json.dumps(event, indent=None, separators=(" ,", " : ")).encode(),
])  # fmt: skip


@given(st.lists(st.lists(st.tuples(events, serializers), max_size=20), max_size=4), st.integers(1, 3))
def test_any_events_give_the_line_encoders_lines(batches, limit) -> None:
    assert_same_lines([decoded([dump(event) for event, dump in batch]) for batch in batches], limit)


# The value's own digits, as numbat's senders write them: every branch of what Point
# writes digit for digit (trailing zeros, exponents, tiny numbers, long mantissas).
number_texts = st.from_regex(r"-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,19})?([eE][+-]?[0-9]{1,3})?", fullmatch=True)
time_texts = st.from_regex(r"-?(0|[1-9][0-9]{0,19})", fullmatch=True)


@given(st.lists(st.tuples(number_texts, time_texts, st.sampled_from(["h1", "h2"])), min_size=1, max_size=40))
def test_number_texts_are_written_as_point_writes_them(rows) -> None:
    lines = [
        b'{"name":"m","value":%s,"time":%s,"host":"%s"}' % (v.encode(), t.encode(), h.encode()) for v, t, h in rows
    ]
    assert_same_lines([decoded(lines), decoded(lines[::-1])])


@settings(max_examples=300)
@given(
    st.lists(st.one_of(st.binary(max_size=60), st.binary(max_size=3).map(lambda b: b'{"name":"m",' + b)), max_size=10)
)
def test_arbitrary_bytes_beside_good_lines(junk) -> None:
    good = b'{"name":"m","value":1.5,"time":5,"host":"h"}'
    lines = [line for item in junk for line in (good, item.replace(b"\n", b" "))]
    assert_same_lines([decoded(lines), decoded(lines)])


@given(st.data())
def test_mutated_lines(data) -> None:
    line = bytearray(b'{"name":"web.latency","value":12.25,"time":1700000000000,"host":"web-1","ok":true}')
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(line) - 1))
        line[at] = data.draw(st.integers(0, 255).filter(lambda byte: byte != ord("\n")))
    good = b'{"name":"web.latency","value":1,"time":1700000000000,"host":"web-1","ok":true}'
    assert_same_lines([decoded([good, bytes(line), good])] * 2)


def test_known_series_take_the_compiled_path() -> None:
    lines = [orjson.dumps({"name": "m", "value": i / 4, "time": i, "host": f"h{i % 3}"}) for i in range(300)]
    transcoder = assert_same_lines([decoded(lines)])
    assert len(transcoder) == 3

    def no_slow_path(event: object, left_out: object) -> None:
        raise AssertionError("a known series went through the LineEncoder")

    transcoder.encoder.encode_checked = no_slow_path  # type: ignore[method-assign]
    lines, _ = transcoder.encode_all(decoded(lines).events, decoded(lines).raw)
    assert lines.body.split(b"\n")[5] == b"m,host=h2 value=1.25 5"


def test_beyond_its_limit_series_take_the_line_encoders_path() -> None:
    lines = [orjson.dumps({"name": "m", "value": i, "time": i, "host": f"h{i % 50}"}) for i in range(200)]
    transcoder = assert_same_lines([decoded(lines), decoded(lines)], learn=7)
    assert len(transcoder) == 7


def test_many_series_grow_the_tables() -> None:
    lines = [orjson.dumps({"name": "m", "value": i, "time": i, "id": f"{i:05}" * 20}) for i in range(20_000)]
    transcoder = assert_same_lines([decoded(lines[:10_000]), decoded(lines)], limit=100_000)
    assert len(transcoder) == 20_000


def test_refused_and_skipped_series_are_counted_each_time() -> None:
    lines = [orjson.dumps({"name": "m", "value": 1, "time": i, "host": f"h{i}"}) for i in range(5)]
    lines += [b'{"name":"heartbeat","value":1,"time":1}'] * 2
    transcoder = JsonLineTranscoder(LineEncoder(skip=skip_heartbeats, admit=admit_at_most(2)))
    for _ in range(2):
        batch = decoded(lines)
        written, left_out = transcoder.encode_all(batch.events, batch.raw)
        assert len(written) == 2
        assert left_out == {"skipped": 2, "no line": 0, "cardinality": 3}


def test_a_line_with_a_newline_is_not_trusted() -> None:
    events = [{"name": "m", "value": 1, "time": 1}, {"name": "n", "value": 2, "time": 2}]
    raw: list[bytes | None] = [b'{"name":"m","value":1,"time":1}\n{"name":"x","value":9,"time":9}', None]
    lines, _ = JsonLineTranscoder(LineEncoder()).encode_all(events, raw)
    assert lines.body == b"m value=1 1\nn value=2 2"


def test_only_plain_lines_can_be_transcoded() -> None:
    with pytest.raises(ValueError, match="not plain"):
        JsonLineTranscoder(LineEncoder(fields=["count"]))
    with pytest.raises(ValueError, match="not plain"):
        JsonLineTranscoder(LineEncoder(integers_as_floats=False))


@given(st.lists(st.binary(max_size=5).map(lambda b: b.replace(b"\n", b"")), max_size=12), st.integers(1, 5))
def test_chunks_hold_at_most_size_lines_each(lines, size) -> None:
    chunks = Lines.of(lines).chunks(size)
    assert [count for _, count in chunks] == [len(lines[i : i + size]) for i in range(0, len(lines), size)]
    assert [body for body, _ in chunks] == [b"\n".join(lines[i : i + size]) for i in range(0, len(lines), size)]


@given(st.lists(st.lists(st.tuples(events, serializers), max_size=20), max_size=4))
def test_lines_a_listener_left_undecoded_give_the_same_lines(batches) -> None:
    """A numbat listener's batch behind its scan (lines of the usual shape not decoded):
    the LineEncoder's lines, and the events of known series are never decoded."""
    reference = LineEncoder(skip=skip_heartbeats)
    transcoder = JsonLineTranscoder(LineEncoder(skip=skip_heartbeats))
    for batch in batches:
        lines = [dump(event) for event, dump in batch]
        expected, expected_left_out = reference.encode_all(decoded(lines).events)
        scanned = Batch()
        decode_scanned(NumbatDecoder(), lines, 1_700_000_000_000, scanned)
        got, left_out = transcoder.encode_batch(scanned)
        assert (got.body, left_out) == (b"\n".join(expected), expected_left_out)
    known = Batch()
    decode_scanned(NumbatDecoder(), [b'{"name":"m","value":1,"time":5,"host":"h"}'] * 3, 0, known)
    transcoder.encode_batch(known)
    transcoder.encode_batch(known)
    assert known.undecoded == 2  # one decoded to learn the series, the others never


# A known series spelt otherwise: blanks before and after either token, the keys in
# another order, keys and strings that hold "value" and "time", a second value or time.
# The quick read of known series must take exactly the lines the full read takes.
spellings = st.sampled_from([
    b'{"name":"m","value":%(v)s,"time":%(t)s,"host":"h"}',
    b'{"name":"m","value": %(v)s,"time": %(t)s,"host":"h"}',
    b'{"name":"m","value":%(v)s ,"time":%(t)s ,"host":"h"}',
    b'{"name":"m","value":\t%(v)s\r,"time":%(t)s,"host":"h"}',
    b'{"name":"m","value" :%(v)s,"time" : %(t)s,"host":"h"}',
    b'{"name":"m","time":%(t)s,"value":%(v)s,"host":"h"}',
    b'{"host":"h","time":%(t)s,"name":"m","value":%(v)s}',
    b'{"name":"m","xvalue":%(v)s,"value":%(v)s,"time":%(t)s,"host":"h"}',
    b'{"name":"m","host":"h","value":%(v)s,"time":%(t)s,"xtime":%(t)s}',
    b'{"name":"m","value":%(v)s,"time":%(t)s,"host":"\\"value\\":1"}',
    b'{"name":"m","value":%(v)s,"time":%(t)s,"host":"value:1,time:2"}',
    b'{"name":"m","value":%(v)s,"value":%(v)s,"time":%(t)s,"host":"h"}',
    b'{"name":"m","value":%(v)s,"time":%(t)s,"time":%(t)s,"host":"h"}',
    b'{"name":"m","value":"%(v)s","time":%(t)s,"host":"h"}',
    b'{"name":"m","value":%(v)s,"time":"%(t)s","host":"h"}',
    b'{"name":"m","value":%(v)s,"time":%(t)s,"host":"h"',
    b'{"name":"m","value":%(v)s,"time":%(t)s,"host":"h"}}',
    b'{"name":"m","value":%(v)s,"time":%(t)s,"host":"h"} ',
    b'{"name":"m","value":%(v)s%(v)s,"time":%(t)s,"host":"h"}',
    b'{"name":"m","value":%(v)s,"time":%(t)s%(v)s,"host":"h"}',
])  # fmt: skip


@given(st.lists(st.tuples(spellings, number_texts, time_texts), min_size=1, max_size=30))
def test_known_series_spelt_otherwise_give_the_line_encoders_lines(rows) -> None:
    lines = [spelling % {b"v": v.encode(), b"t": t.encode()} for spelling, v, t in rows]
    # every spelling's series learnt first, then each line again as a known series
    learn = [spelling % {b"v": b"1", b"t": b"5"} for spelling, _, _ in rows]
    assert_same_lines([decoded(learn), decoded(lines), decoded(lines[::-1])])


def read(lines: list[bytes], scanned: bool) -> Batch:
    """A listener's batch: behind the scan (lines of the usual shape undecoded, with what
    the scan found of them), or decoded."""
    batch = Batch()
    if scanned:
        decode_scanned(NumbatDecoder(), lines, 1_700_000_000_000, batch)
    else:
        NumbatDecoder().decode(lines, 1_700_000_000_000, batch)
    return batch


# Lines of a few series, with every value and time text (so that most are of a series
# learnt already), beside any events at all.
known_series_lines = st.builds(
    lambda value, time, host: b'{"name":"m","value":%s,"time":%s,"host":"%s"}' % (value.encode(), time.encode(), host),
    number_texts,
    time_texts,
    st.sampled_from([b"h1", b"h2", b"h3"]),
)
read_lines = st.one_of(known_series_lines, st.tuples(events, serializers).map(lambda pair: pair[1](pair[0])))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.lists(read_lines, max_size=15), st.booleans()), min_size=1, max_size=5),
    st.data(),
    st.integers(1, 3),
    st.sampled_from([2, 100_000]),
)
def test_merged_and_sliced_batches_give_the_line_encoders_lines(reads, data, limit, learn) -> None:
    """Reads merged as the queue merges them (scanned ones and decoded ones side by side),
    then cut where the runner may cut: each piece gives the LineEncoder's lines, line for
    line, and its counts of what was left out."""
    batches = [read(lines, scanned) for lines, scanned in reads]
    merged = batches[0].slice(0)
    for batch in batches[1:]:
        merged.extend(batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(merged)), max_size=3)))
    reference = LineEncoder(skip=skip_heartbeats, admit=admit_at_most(limit))
    transcoder = JsonLineTranscoder(LineEncoder(skip=skip_heartbeats, admit=admit_at_most(limit)), learn)
    for start, stop in pairwise([0, *cuts, len(merged)]):
        piece = merged.slice(start, stop)
        expected, expected_left_out = reference.encode_all([dict(event) for event in piece.slice(0).events])
        lines, left_out = transcoder.encode_batch(piece)
        assert lines.body == b"\n".join(expected)
        assert [lines.body[:end].rpartition(b"\n")[2] for end in lines.ends] == expected
        assert left_out == expected_left_out


def test_lines_with_their_scan_are_read_where_they_lie(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch of two scanned reads: its lines are not joined and read again (the scan's
    buffers are read), its known series never decoded, and the lines are each read's own."""
    first = [b'{"name":"m","value":%d.5,"time":%d,"host":"h%d"}' % (i, 100 + i, i % 2) for i in range(4)]
    second = [b'{"name":"m","value":%d,"time":%d,"host":"h%d"}' % (10 + i, 200 + i, i % 2) for i in range(4)]
    batch = read(first, scanned=True)
    batch.extend(read(second, scanned=True))
    assert [len(lines) for _, lines in batch.scanned] == [4, 4]
    transcoder = JsonLineTranscoder(LineEncoder())
    transcoder.encode_batch(read(first[:2], scanned=True))  # both series learnt

    def no_second_read(*args: object) -> None:
        raise AssertionError("scanned lines read again")

    monkeypatch.setattr(_transcoder, "_classify", no_second_read)
    lines, _ = transcoder.encode_batch(batch)
    expected = [b"m,host=h%d value=%d.5 %d" % (i % 2, i, 100 + i) for i in range(4)]
    expected += [b"m,host=h%d value=%d %d" % (i % 2, 10 + i, 200 + i) for i in range(4)]
    assert lines.body == b"\n".join(expected)
    assert [lines.body[:end].rpartition(b"\n")[2] for end in lines.ends] == expected
    assert batch.undecoded == 8
