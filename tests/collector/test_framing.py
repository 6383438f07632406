"""Line framing: partial lines joined exactly once, long lines refused without losing neighbours."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from collector.wire import LineFramer, drop_long_lines

line_text = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b""))


@given(st.lists(line_text, max_size=40), st.lists(st.integers(min_value=0, max_value=400), max_size=20))
def test_any_chunking_gives_back_exactly_the_lines(lines: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(line + b"\n" for line in lines)
    framer = LineFramer(max_line=1000)
    got: list[bytes] = []
    start = 0
    for cut in [*sorted(c for c in cuts if c <= len(stream)), len(stream)]:
        out, refused = framer.feed(stream[start:cut])
        assert refused == 0
        got += out
        start = cut
    assert got == lines
    assert framer.finish() == []


@given(
    st.lists(st.tuples(line_text, st.booleans()), max_size=30),
    st.integers(min_value=1, max_value=64),
)
def test_long_lines_are_refused_and_counted_and_the_rest_kept(spec: list[tuple[bytes, bool]], chunk: int) -> None:
    max_line = 50
    lines = [line + b"x" * (max_line + 1) if long else line for line, long in spec]
    stream = b"".join(line + b"\n" for line in lines)
    framer = LineFramer(max_line)
    got: list[bytes] = []
    refused = 0
    for start in range(0, len(stream), chunk):
        out, count = framer.feed(stream[start : start + chunk])
        got += out
        refused += count
    assert got == [line for line in lines if len(line) <= max_line]
    assert refused == sum(1 for line in lines if len(line) > max_line)


def test_a_last_line_without_newline_is_kept_at_the_end() -> None:
    framer = LineFramer(100)
    assert framer.feed(b'{"a":1}\n{"b"') == ([b'{"a":1}'], 0)
    assert framer.feed(b":2}") == ([], 0)
    assert framer.finish() == [b'{"b":2}']


def test_a_line_cut_at_the_chunk_boundary_is_emitted_once() -> None:
    # numbat-collector's JSON stream emitted a line that ends exactly at a chunk boundary twice.
    framer = LineFramer(100)
    assert framer.feed(b'{"a":1}') == ([], 0)
    assert framer.feed(b"\n") == ([b'{"a":1}'], 0)
    assert framer.feed(b'{"b":2}\n') == ([b'{"b":2}'], 0)


@given(st.lists(st.binary(max_size=80), max_size=30), st.integers(min_value=1, max_value=60))
def test_drop_long_lines_keeps_the_short_ones_in_order(lines: list[bytes], max_line: int) -> None:
    kept, long_lines = drop_long_lines(lines, max_line)
    assert kept == [line for line in lines if len(line) <= max_line]
    assert long_lines == [line for line in lines if len(line) > max_line]
    if not long_lines:
        assert kept is lines  # the common case costs no copy
