"""The compiled numbat scan: a line it calls usual is one the decoder passes on as it is,
and a read decoded behind the scan is the decoder's read, event for event, line for line."""

from __future__ import annotations

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.wire import Batch
from collector.wire._numbat import NumbatDecoder
from collector.wire._numbat_scan import decode_scanned, scan_lines, scan_numbat
from emitter.event import EventBuilder

NOW = 1_700_000_000_000

keys = st.sampled_from(["host", "node", "x y", "", "status", "h\u00e9", "n\\u0061me", 'q\\"'])
own_keys = st.sampled_from(["name", "value", "time"])
good_numbers = st.one_of(
    st.integers(-(2**63), 2**63).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: orjson.dumps(f).decode()),
    st.from_regex(r"-?(0|[1-9][0-9]{0,19})(\.[0-9]{1,5})?([eE][+-]?[0-9]{1,3})?", fullmatch=True),
)
#: short numbers, JSON or nearly: leading zeros, a bare point
near_numbers = st.from_regex(r"-?[0-9]{1,3}(\.[0-9]{0,2})?([eE][0-9]{0,3})?", fullmatch=True)
bad_numbers = st.sampled_from(["01", "1.", "-", ".5", "1e", "+1", "-01", "1e+", "0x1", "1_0", "9" * 400])
times = st.one_of(
    st.integers(-9_223_372_036_860, 9_223_372_036_860).map(str),
    st.sampled_from(["-0", "0", "1e3", "5.0", '"2023-11-14T22:13:20Z"', "null", "00", "01", "1" * 19]),
    st.sampled_from(["9223372036854", "-9223372036854", "9223372036855", "-9223372036855", "10000000000000"]),
)
strings = st.one_of(
    st.text(st.characters(codec="ascii"), max_size=8).map(lambda text: orjson.dumps(text).decode()),
    st.text(max_size=4).map(lambda text: orjson.dumps(text).decode()),  # not ASCII, escapes
    st.text(st.characters(codec="utf-8"), max_size=4).map(lambda text: f'"{text}"'),  # raw, maybe broken
)
literals = st.sampled_from(["true", "false", "null", "nul", "tru", "{}", "[1]", '{"a":1}', "[]", "True"])
values = st.one_of(good_numbers, strings, literals, bad_numbers)
names = st.one_of(st.sampled_from(['"app.x"', '"a"', '"x y"']), strings, literals, good_numbers)
blanks = st.sampled_from(["", "", "", "", "", " ", "\t", "\r", "  ", "\n"])


def _key(key: str, plain: bool) -> str:
    return f'"{key}"' if plain else orjson.dumps(key.replace("\\u0061", "a").replace('\\"', '"')).decode()


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    """JSON-ish objects, most of them near numbat's usual shape, some broken."""

    def often(usual: st.SearchStrategy[str], other: st.SearchStrategy[str]) -> str:
        return draw(usual if draw(st.integers(0, 4)) else other)

    members = []
    if draw(st.integers(0, 9)):
        members.append(('"name"', often(st.sampled_from(['"app.x"', '"a"', '"x y"']), names)))
    if draw(st.integers(0, 9)):
        members.append(('"value"', often(st.one_of(good_numbers, near_numbers), values)))
    if draw(st.integers(0, 9)):
        members.append(('"time"', often(st.integers(0, 2 * 10**12).map(str), st.one_of(times, near_numbers))))
    for _ in range(draw(st.integers(0, 4))):
        key = often(keys, own_keys)  # now and then a second name, value or time
        members.append((_key(key, draw(st.booleans())), often(st.one_of(good_numbers, strings, literals), values)))
    members = draw(st.permutations(members))
    inner = ",".join(f"{draw(blanks)}{key}{draw(blanks)}:{draw(blanks)}{value}{draw(blanks)}" for key, value in members)
    text = draw(blanks) + "{" + inner + "}" + draw(blanks)
    mangle = draw(st.integers(0, 12))
    if mangle == 0:
        text = text[: draw(st.integers(0, len(text)))]  # torn
    elif mangle == 1:
        text += draw(st.sampled_from(["}", ",", "x", "{}"]))
    line = text.encode().replace(b"\n", b"")
    if mangle == 2 and b'"' in line:  # bytes that are no UTF-8 in some string: in a value, a key
        at = draw(st.sampled_from([index for index, byte in enumerate(line) if byte == ord('"')]))
        line = line[: at + 1] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc3\xa9"])) + line[at + 1 :]
    return line


def decoded(lines_: list[bytes], scanned: bool) -> Batch:
    batch = Batch()
    if scanned:
        decode_scanned(NumbatDecoder(), lines_, NOW, batch)
    else:
        NumbatDecoder().decode(lines_, NOW, batch)
    return batch


@settings(max_examples=800)
@given(lines())
def test_a_usual_line_is_one_the_decoder_passes_on_as_it_is(line: bytes) -> None:
    batch = decoded([line], scanned=False)
    if scan_numbat([line])[0]:
        assert not batch.rejections
        assert batch.events == [orjson.loads(line)]
        assert batch.raw == [line]


@settings(max_examples=250)
@given(st.lists(lines(), max_size=30))
def test_a_read_behind_the_scan_is_the_decoders_read(read: list[bytes]) -> None:
    expected, got = decoded(read, scanned=False), decoded(read, scanned=True)
    assert len(got) == len(expected)
    assert got.raw == expected.raw
    assert [(r.reason, r.line) for r in got.rejections] == [(r.reason, r.line) for r in expected.rejections]
    one_by_one = [got.event(index) for index in range(len(got))]  # as a sink asks, event by event
    assert one_by_one == expected.events
    assert got.events == expected.events
    assert [type(v) for e in got.events for v in e.values()] == [type(v) for e in expected.events for v in e.values()]


@settings(max_examples=100)
@given(st.lists(lines(), max_size=30))
def test_without_a_reader_of_scans_the_read_is_the_same_and_holds_no_scan(read: list[bytes]) -> None:
    """keep_scans=False (no sink reads the scan): the same lines and events, and no scan
    left waiting in the batch."""
    kept, dropped = Batch(), Batch()
    decode_scanned(NumbatDecoder(), read, NOW, kept)
    decode_scanned(NumbatDecoder(), read, NOW, dropped, keep_scans=False)
    assert dropped.raw == kept.raw
    assert dropped.events == kept.events
    assert dropped.scanned == []


def test_what_the_emitter_sends_is_the_usual_shape() -> None:
    """The scan is worth its cost only if the usual events are usual: the emitter's own."""
    builder = EventBuilder("app", {"host": "web-1", "node": "n1"})
    events = [
        builder.build(f"req.{i % 7}", i * 0.25, {"status": 200, "ok": True, "route": None}, 1.7e9 + i)
        for i in range(200)
    ]
    assert scan_numbat([orjson.dumps(event) for event in events]).all()


def test_lines_of_other_shapes_go_to_the_decoder() -> None:
    others = [
        b'{"name":"a","value":1}',  # no time: completed by the decoder
        b'{"name":"a","value":1,"time":"2023-11-14T22:13:20Z"}',
        b'{"name":"a","value":true,"time":5}',
        b'{"name":"a","value":null,"time":5}',
        b'{"name":"a","value":1,"time":5.0}',
        b'{"name":"a","value":1,"time":9223372036855}',  # out of range
        b'{"name":"a","value":1,"time":5,"name":"b"}',
        b'{"name":"\\u0061","value":1,"time":5}',
        b'{"name":"\xc3\xa9","value":1,"time":5}',
        b'{"name":"a","value":1,"time":5,"tags":{"a":1}}',
        b'{"name":"a","value":1e400,"time":5}',
        b"",
        b"[]",
    ]
    assert not scan_numbat(others).any()
    assert scan_numbat([b' {"time":-5, "value":-0.5e-10,"name":"x y","h":null,"t":true,"f":false,"n":12.5E+3}\r']).all()


def held_scans_are_right(batch: Batch) -> None:
    """Each run of lines the batch holds with their scan: in order, apart, and the scan of
    exactly the lines ``raw`` holds there (spans on them, cuts as a scan of each alone)."""
    end = 0
    for at, scanned in batch.scanned:
        assert at >= end
        end = at + len(scanned)
        assert end <= len(batch)
        assert scanned.lines() == batch.raw[at:end]
        for line, (start, _), cut in zip(scanned.lines(), scanned.spans.tolist(), scanned.cuts.tolist(), strict=True):
            usual, alone, _ = scan_lines(np.frombuffer(line, dtype=np.uint8))
            assert usual.tolist() == [True]
            assert [position - start for position in cut] == alone[0].tolist()


#: lines of the usual shape, most of a read's: runs of them long enough to be cut inside
usual_lines = st.builds(
    lambda value, time, host: (
        b'{"name":"a.b","value":%s,"time":%d,"host":"%s"}' % (value.encode(), time, host.encode())
    ),
    good_numbers,
    st.integers(0, 2 * 10**12),
    st.sampled_from(["web-1", "x y", ""]),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.lists(st.one_of(usual_lines, usual_lines, lines()), max_size=12), st.booleans()), max_size=5),
    st.data(),
)
def test_a_batch_keeps_its_lines_scans_through_merges_and_slices(reads, data) -> None:
    """As the queue merges reads and the runner halves batches: the scans held stay the
    scans of the lines held, and every usual line of a scanned read keeps one."""
    batches = [decoded(read, scanned) for read, scanned in reads]
    for batch, (read, scanned) in zip(batches, reads, strict=True):
        held_scans_are_right(batch)
        covered = sum(len(lines_) for _, lines_ in batch.scanned)
        assert covered == (int(scan_numbat(read).sum()) if scanned else 0)
    merged = batches[0].slice(0) if batches else Batch()
    for batch in batches[1:]:
        merged.extend(batch)
    held_scans_are_right(merged)
    assert sum(map(len, (lines_ for _, lines_ in merged.scanned))) == sum(
        sum(map(len, (lines_ for _, lines_ in batch.scanned))) for batch in batches
    )
    start = data.draw(st.integers(0, len(merged)))
    stop = data.draw(st.integers(start, len(merged)))
    part = merged.slice(start, stop)
    held_scans_are_right(part)
    assert part.raw == merged.raw[start:stop]
    inside = sum(max(0, min(at + len(s), stop) - max(at, start)) for at, s in merged.scanned)
    assert sum(len(s) for _, s in part.scanned) == inside
