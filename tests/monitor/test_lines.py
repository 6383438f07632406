"""numbat-run's output lines: split from chunks of any size, bounded, fitted to an event."""

from __future__ import annotations

import itertools

import orjson
from hypothesis import given
from hypothesis import strategies as st

from monitor.core import Line, LineSplitter, fit_json, last_output, line_text


def reference_lines(data: bytes, max_bytes: int) -> list[Line]:
    """What the splitter must give, written the obvious way, the whole stream at once."""
    pieces = data.split(b"\n")
    if pieces[-1] == b"":
        pieces.pop()  # the stream ended with a newline: no line after it
    return [Line(piece[:max_bytes], len(piece) > max_bytes) for piece in pieces]


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    edges = [0, *points, len(data)]
    return [data[start:end] for start, end in itertools.pairwise(edges)]


streams = st.lists(st.sampled_from([b"a", b"bc", b"\n", b"\r\n", "é".encode(), b"\xff", b"xyz" * 7]), max_size=60).map(
    b"".join
)


@given(streams, st.lists(st.integers(0, 400), max_size=12), st.integers(1, 40))
def test_lines_are_the_same_however_the_stream_is_cut(data: bytes, cuts: list[int], max_bytes: int) -> None:
    splitter = LineSplitter(max_bytes)
    lines: list[Line] = []
    for chunk in chunked(data, cuts):
        lines += splitter.feed(chunk)
        assert len(splitter._partial) <= max_bytes  # the bound on memory
    lines += splitter.finish()
    assert lines == reference_lines(data, max_bytes)


def test_a_stream_without_a_last_newline_ends_in_a_line() -> None:
    splitter = LineSplitter(100)
    assert splitter.feed(b"one\ntw") == [Line(b"one")]
    assert splitter.finish() == [Line(b"tw")]
    assert splitter.finish() == []


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)


@given(texts, st.integers(2, 200))
def test_fit_json_bounds_the_encoding_and_keeps_a_prefix(text: str, limit: int) -> None:
    fitted, cut = fit_json(text, limit)
    assert len(orjson.dumps(fitted)) <= limit
    assert text.startswith(fitted)
    assert cut == (fitted != text)
    if not cut:
        assert len(orjson.dumps(text)) <= limit
    else:  # as long as it could be: one more character would not fit
        assert len(orjson.dumps(text[: len(fitted) + 1])) > limit


@given(texts, st.integers(1, 60), st.integers(64, 200))
def test_a_line_is_text_within_its_bound(text: str, max_bytes: int, limit: int) -> None:
    raw = text.encode()
    [line] = reference_lines(raw.replace(b"\n", b" ") + b"\n", max_bytes)
    result, cut = line_text(line, limit)
    assert len(orjson.dumps(result)) <= limit
    whole = raw.replace(b"\n", b" ").decode()
    if not line.truncated and whole.endswith("\r"):
        whole = whole[:-1]
    assert whole.startswith(result)  # a UTF-8 character cut by the byte bound is dropped, not mangled
    assert cut == (result != whole)


def test_bad_bytes_are_replaced_and_a_carriage_return_dropped() -> None:
    assert line_text(Line(b"caf\xc3\xa9 \xff\r"), 100) == ("café \ufffd", False)
    assert line_text(Line("ab€".encode()[:4], truncated=True), 100) == ("ab", True)


@given(
    st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=40), max_size=30),
    st.integers(2, 300),
)
def test_the_last_output_is_the_end_of_the_output_within_its_bound(lines: list[str], limit: int) -> None:
    output = last_output(lines, limit)
    assert len(orjson.dumps(output)) <= limit
    assert "\n".join(lines).endswith(output)
    if lines and len(orjson.dumps(lines[-1])) <= limit:
        # whole lines only, as many as fit: one more would not
        assert any(
            "\n".join(lines[first:]) == output
            and (first == 0 or len(orjson.dumps("\n".join(lines[first - 1 :]))) > limit)
            for first in range(len(lines))
        )


def test_a_line_of_wide_characters_keeps_as_many_as_fit() -> None:
    """Three bytes a character (CJK), six an escaped control character: the cut keeps
    every character that fits, not one per byte too many."""
    text, cut = fit_json("漢" * 600, 1024)
    assert cut
    assert len(text) == (1024 - 2) // 3
    text, cut = fit_json("a\x01" * 100, 64)
    assert len(orjson.dumps(text)) <= 64 < len(orjson.dumps(("a\x01" * 100)[: len(text) + 1]))
