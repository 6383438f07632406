"""The remote write sink's compiled path: numbat JSON lines to the very requests the
RequestEncoder makes of their events, batch after batch (property tests), and the
compiled path actually taken for known series."""

from __future__ import annotations

import json
from itertools import pairwise

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.sinks.remote_write._mapping import Naming
from collector.sinks.remote_write._requests import RequestEncoder
from collector.sinks.remote_write._sink import is_heartbeat
from collector.sinks.remote_write._transcoder import LineSamples
from collector.wire import Batch
from collector.wire._numbat import NumbatDecoder
from collector.wire._numbat_scan import decode_scanned

NOW = 1_700_000_000_000


def encoder(max_series: int, batch_size: int) -> RequestEncoder:
    naming = Naming("numbat_", exclude=("secret",), static_labels={"job": "bench"})
    return RequestEncoder(naming, batch_size=batch_size, max_series=max_series, skip=is_heartbeat)


def read(lines: list[bytes], scanned: bool) -> Batch:
    """A listener's batch: behind the scan (lines of the usual shape undecoded), or decoded."""
    batch = Batch()
    if scanned:
        decode_scanned(NumbatDecoder(), lines, NOW, batch)
    else:
        NumbatDecoder().decode(lines, NOW, batch)
    return batch


def assert_same_requests(
    reads: list[list[bytes]], max_series: int = 100_000, batch_size: int = 5000, limit: int = 100_000
) -> LineSamples:
    """Each read in turn through the compiled path and through a RequestEncoder alike
    configured: the same requests, the same counts of what was left out."""
    reference = encoder(max_series, batch_size)
    compiled = LineSamples(encoder(max_series, batch_size), limit)
    for index, lines in enumerate(reads):
        expected = reference.encode(read(lines, scanned=False).events)
        got = compiled.encode(read(lines, scanned=index % 2 == 0))  # undecoded lines, and decoded ones
        assert got == expected
    return compiled


names = st.sampled_from(["web.latency", "app.heartbeat", "db q", "1x", "a:b", "\u00e9t\u00e9", ""])
label_values = st.one_of(
    st.sampled_from(["web-1", "web-2", "", 'a"q', "\u00e9", "back\\slash"]),
    st.text(max_size=4),
    st.booleans(),
    st.none(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=2),
)
numbers = st.one_of(
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1, -1, 0.5, 1.0, -0.0, 1e-4, 1e-5, 1e15, 123456789012345, 1234567890123456, 0.1]),
)
values = st.one_of(numbers, numbers, st.booleans(), st.none(), st.sampled_from(["3", "x"]))
times = st.one_of(st.integers(NOW - 50, NOW + 50), st.integers(-5, 5), st.sampled_from([None, "2023-11-14T22:13:20Z"]))
events = st.fixed_dictionaries(
    {"name": names, "value": values, "time": times},
    optional={
        "host": label_values,
        "route": label_values,
        "a.b": label_values,
        "a_b": label_values,
        "__x": label_values,
        "secret": label_values,
        "job": label_values,
    },
)


def compact(event: dict) -> bytes:
    try:
        return orjson.dumps(event)
    except TypeError:  # integers past 64 bits
        return json.dumps(event, separators=(",", ":")).encode()


serializers = st.sampled_from([
    compact,
    lambda event: json.dumps(event).encode(),  # spaces after ":" and ","
    lambda event: json.dumps(event, ensure_ascii=False).encode(),
    lambda event: json.dumps(dict(reversed(event.items())), separators=(" ,", " : ")).encode(),
])  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(st.tuples(events, serializers), max_size=25), max_size=5),
    st.integers(1, 6),
    st.integers(1, 7),
)
def test_any_events_give_the_encoders_requests(reads, max_series, batch_size) -> None:
    assert_same_requests([[dump(event) for event, dump in lines] for lines in reads], max_series, batch_size)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(NOW, NOW + 6), numbers), min_size=1, max_size=60))
def test_known_series_out_of_order_and_at_one_time(rows) -> None:
    """Few series, times that repeat and go back: sorting, ``same timestamp`` and ``out of
    order`` as the encoder has them, across reads."""
    lines = [compact({"name": "m", "value": v, "time": t, "host": f"h{h}"}) for h, t, v in rows]
    assert_same_requests([lines, lines[::-1], lines], max_series=3, batch_size=4)


value_texts = st.from_regex(r"-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,19})?([eE][+-]?[0-9]{1,3})?", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(value_texts, st.integers(0, 20)), min_size=1, max_size=40))
def test_values_are_read_as_python_reads_them(rows) -> None:
    lines = [b'{"name":"m","value":%s,"time":%d,"host":"h"}' % (v.encode(), NOW + t) for v, t in rows]
    assert_same_requests([lines])


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_lines_beside_good_ones(data) -> None:
    line = bytearray(b'{"name":"web.latency","value":12.25,"time":1700000000001,"host":"web-1","ok":true}')
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(line) - 1))
        line[at] = data.draw(st.integers(0, 255).filter(lambda byte: byte != ord("\n")))
    good = [b'{"name":"web.latency","value":1,"time":%d,"host":"web-1","ok":true}' % (NOW + i) for i in range(3)]
    assert_same_requests([[good[0], bytes(line), good[1]], [bytes(line), good[2]]])


def test_known_series_take_the_compiled_path() -> None:
    """After one event of each series, the lines alone: no event is decoded."""
    lines = [b'{"name":"m","value":%d,"time":%d,"host":"h%d"}' % (i, NOW + i, i % 3) for i in range(30)]
    compiled = assert_same_requests([lines[:3]])
    batch = read(lines[3:], scanned=True)
    assert batch.undecoded == 27
    compiled.encode(batch)
    assert batch.undecoded == 27
    assert len(compiled) == 3


def test_heartbeats_and_refused_series_are_counted_each_time() -> None:
    lines = [
        b'{"name":"app.heartbeat","value":1,"time":%d}' % NOW,
        b'{"name":"m","value":1,"time":%d,"__x":"y"}' % NOW,
        b'{"name":"m","value":2,"time":%d,"a.b":1,"a_b":2}' % NOW,
    ]
    compiled = LineSamples(encoder(100, 10), 100)
    for _ in range(3):
        requests, left_out = compiled.encode(read(lines, scanned=True))
        assert requests == []
        assert left_out == {"heartbeat": 1, "bad label name": 2}


def test_forgets_its_keys_past_its_limit_and_with_the_encoders_series() -> None:
    lines = [b'{"name":"m","value":1,"time":%d,"host":"h%d"}' % (NOW + i, i) for i in range(10)]
    compiled = assert_same_requests([lines[:5], lines[5:]], limit=4)
    assert len(compiled) <= 5
    compiled = assert_same_requests([lines[:5], lines[5:], lines], max_series=3)
    assert len(compiled) <= 10


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.lists(st.tuples(events, serializers), max_size=15), st.booleans()), min_size=1, max_size=5),
    st.data(),
)
def test_merged_and_sliced_batches_give_the_encoders_requests(reads, data) -> None:
    """Reads merged as the queue merges them (scanned ones and decoded ones side by side),
    then cut where the runner may cut: each piece gives the encoder's requests."""
    batches = [read([dump(event) for event, dump in lines], scanned) for lines, scanned in reads]
    merged = batches[0].slice(0)
    for batch in batches[1:]:
        merged.extend(batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(merged)), max_size=3)))
    bounds = [0, *cuts, len(merged)]
    reference, compiled = encoder(100_000, 5), LineSamples(encoder(100_000, 5), 100_000)
    for start, stop in pairwise(bounds):
        piece = merged.slice(start, stop)
        expected = reference.encode([dict(event) for event in piece.slice(0).events])
        assert compiled.encode(piece) == expected


def test_lines_with_their_scan_are_read_where_they_lie() -> None:
    """A batch of two scanned reads: its lines are not joined again (the scan's buffers
    are read), and the samples are those of each read's own lines."""
    first = [b'{"name":"m","value":%d,"time":%d,"host":"h%d"}' % (i, NOW + i, i % 2) for i in range(4)]
    second = [b'{"name":"m","value":%d,"time":%d,"host":"h%d"}' % (10 + i, NOW + 10 + i, i % 2) for i in range(4)]
    batch = read(first, scanned=True)
    batch.extend(read(second, scanned=True))
    assert [len(lines) for _, lines in batch.scanned] == [4, 4]
    assert_same_requests([first + second])
    compiled = LineSamples(encoder(100, 5000), 100)
    compiled.encode(read(first[:2], scanned=True))  # both series learnt
    requests, _ = compiled.encode(batch)
    reference = encoder(100, 5000)
    reference.encode(read(first[:2], scanned=False).events)
    assert requests == reference.encode(read(first + second, scanned=False).events)[0]
    assert batch.undecoded == 8
