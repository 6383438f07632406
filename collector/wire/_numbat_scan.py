"""numbat JSON lines in the usual shape, found without decoding them, compiled by numba.
Sans-I/O.

Why: decoding a line into a dict (``orjson.loads``, then the decoder's checks) is most of
what numbatd spends on an event, and sinks that write from the lines themselves (jsonl,
forward, the compiled transcoders of influxdb and prometheus_remote_write) do not need
the dict. :func:`scan_numbat` is one compiled pass over a read's lines that says, line
by line, whether the numbat decoder would pass the line on as it is: as
``orjson.loads(line)``, with the line itself as its raw line (its common case: an object
with a non-empty ``name``, a number for ``value``, an integer ``time`` within
:data:`~._batch.TIME_RANGE_MS`). Such a line may travel undecoded
(:meth:`~._batch.Batch.add_lines`); every other line goes through the decoder, in order,
and is counted, completed or refused as before.

The shape recognised is a strict subset of what the decoder takes that way, chosen so
that the verdict is exact without decoding: a flat JSON object (no nested object or
array) of ASCII text with no backslash and no control character, whose numbers have at
most 18 integer digits and at most 2 exponent digits (orjson refuses only a number that
would be infinite), ``true``, ``false`` and ``null`` spelt out, one ``name`` (a non-empty
string), one ``value`` (a number) and one ``time`` (an integer of at most 13 digits, in
range), JSON whitespace around the tokens. A line that is not is not refused here: it is
the decoder's. The property tests hold the verdict to the decoder's.

The spans of the name, value and time tokens are kept (:data:`NAME_START`...): the
transcoders cut a line's series out of it with them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, types

from jit.tables import compiled

from ._batch import TIME_RANGE_MS, Batch, ScannedLines
from ._decoding import Decoder

#: Columns of a line's cuts: where its name's text, value token and time token start and end.
NAME_START, NAME_END, VALUE_START, VALUE_END, TIME_START, TIME_END = range(6)
CUTS = 6

_QUOTE, _BACKSLASH, _COLON, _COMMA, _OPEN, _CLOSE, _MINUS, _PLUS, _DOT, _ZERO, _NINE = b'"\\:,{}-+.09'
_SPACE, _TAB, _RETURN, _NEWLINE, _E, _LOW_E = b" \t\r\nEe"
_MAX_INTEGER_DIGITS = 18  #: an int64, or a float orjson reads as one
_MAX_EXPONENT_DIGITS = 2  #: so no number is infinite
_MAX_TIME_DIGITS = 13  #: TIME_RANGE_MS's bounds have 13 digits
_EARLIEST, _LATEST = TIME_RANGE_MS
_OTHER, _NAME, _VALUE, _TIME = range(4)


@compiled
def _blanks(data: Any, at: int, end: int) -> int:
    """The first byte from ``at`` that is not JSON whitespace."""
    while at < end and (data[at] == _SPACE or data[at] == _TAB or data[at] == _RETURN):
        at += 1
    return at


@compiled
def _string_end(data: Any, at: int, end: int) -> int:
    """The closing quote of a string whose text starts at ``at``: printable ASCII, no
    backslash (the text is its bytes); -1 for any other string."""
    while at < end:
        byte = data[at]
        if byte == _QUOTE:
            return at
        if byte == _BACKSLASH or byte < 0x20 or byte >= 0x80:
            return -1
        at += 1
    return -1


@compiled
def _key_kind(data: Any, start: int, end: int) -> int:
    """Which of ``name``, ``value``, ``time`` the key at [start, end) is, if any."""
    size = end - start
    if size == 4:
        if data[start] == 110 and data[start + 1] == 97 and data[start + 2] == 109 and data[start + 3] == 101:
            return _NAME  # name
        if data[start] == 116 and data[start + 1] == 105 and data[start + 2] == 109 and data[start + 3] == 101:
            return _TIME  # time
    elif size == 5 and data[start] == 118 and data[start + 1] == 97 and data[start + 2] == 108:  # noqa: SIM102
        if data[start + 3] == 117 and data[start + 4] == 101:
            return _VALUE  # value
    return _OTHER


@compiled
def _digits_end(data: Any, at: int, end: int) -> int:
    while at < end and _ZERO <= data[at] <= _NINE:
        at += 1
    return at


@compiled
def _number_end(data: Any, at: int, end: int, kind: int) -> int:
    """Where the JSON number at ``at`` ends, when it is one of the usual shape for a key of
    ``kind`` (the time: an integer in range); -1 otherwise."""
    start = at
    if data[at] == _MINUS:
        at += 1
    whole = at
    at = _digits_end(data, at, end)
    digits = at - whole
    if digits == 0 or digits > _MAX_INTEGER_DIGITS or (digits > 1 and data[whole] == _ZERO):
        return -1  # no digits, too many, or a leading zero (not JSON)
    if kind == _TIME:
        if digits > _MAX_TIME_DIGITS or (at < end and (data[at] == _DOT or data[at] == _E or data[at] == _LOW_E)):
            return -1
        number = 0
        for index in range(whole, at):
            number = number * 10 + (data[index] - _ZERO)
        if whole > start:
            number = -number
        return at if _EARLIEST <= number <= _LATEST else -1
    if at < end and data[at] == _DOT:
        fraction = at + 1
        at = _digits_end(data, fraction, end)
        if at == fraction:
            return -1
    if at < end and (data[at] == _E or data[at] == _LOW_E):
        at += 1
        if at < end and (data[at] == _PLUS or data[at] == _MINUS):
            at += 1
        exponent = at
        at = _digits_end(data, exponent, end)
        if at == exponent or at - exponent > _MAX_EXPONENT_DIGITS:
            return -1
    return at


@compiled
def _literal_end(data: Any, at: int, end: int) -> int:
    """Where ``true``, ``false`` or ``null`` at ``at`` ends; -1 for anything else."""
    if at + 4 <= end:
        first, second, third, fourth = data[at], data[at + 1], data[at + 2], data[at + 3]
        if first == 116 and second == 114 and third == 117 and fourth == 101:  # true
            return at + 4
        if first == 110 and second == 117 and third == 108 and fourth == 108:  # null
            return at + 4
        if at + 5 <= end and first == 102 and second == 97 and third == 108 and fourth == 115 and data[at + 4] == 101:
            return at + 5  # false
    return -1


@compiled
def _member_end(data: Any, at: int, end: int, kind: int, cut: Any) -> int:
    """Where the value at ``at`` of a key of ``kind`` ends, the name's, value's or time's
    span noted in ``cut``; -1 when it is not of the usual shape."""
    byte = data[at]
    if byte == _QUOTE:
        token_end = _string_end(data, at + 1, end) + 1
        if token_end == 0 or kind in (_VALUE, _TIME):
            return -1
        if kind == _NAME:
            if cut[NAME_END] or token_end == at + 2:  # a second name, or an empty one
                return -1
            cut[NAME_START], cut[NAME_END] = at + 1, token_end - 1
        return token_end
    if byte == _MINUS or _ZERO <= byte <= _NINE:
        token_end = _number_end(data, at, end, kind)
        if token_end < 0 or kind == _NAME:
            return -1
        if kind == _VALUE:
            if cut[VALUE_END]:
                return -1
            cut[VALUE_START], cut[VALUE_END] = at, token_end
        elif kind == _TIME:
            if cut[TIME_END]:
                return -1
            cut[TIME_START], cut[TIME_END] = at, token_end
        return token_end
    token_end = _literal_end(data, at, end)  # objects and arrays are not the usual shape
    return token_end if kind == _OTHER else -1


@compiled
def _object_end(data: Any, start: int, end: int, cut: Any) -> int:
    """Where the blanks after an object of the usual shape at ``start`` end, reading no
    further than ``end``; -1 when it is not one. Its name's text and its value and time
    tokens are noted in ``cut`` (zeros, given). A newline is neither a blank nor a byte of
    a string, so a usual object never reaches past the newline that ends its line."""
    at = _blanks(data, start, end)
    if at >= end or data[at] != _OPEN:
        return -1
    at = _blanks(data, at + 1, end)
    while True:
        if at >= end or data[at] != _QUOTE:
            return -1  # "}" at once is an object without a name
        key_end = _string_end(data, at + 1, end)
        if key_end < 0:
            return -1
        kind = _key_kind(data, at + 1, key_end)
        at = _blanks(data, key_end + 1, end)
        if at >= end or data[at] != _COLON:
            return -1
        at = _blanks(data, at + 1, end)
        if at >= end:
            return -1
        token_end = _member_end(data, at, end, kind, cut)
        if token_end < 0:
            return -1
        at = _blanks(data, token_end, end)
        if at >= end:
            return -1
        if data[at] == _CLOSE:
            found = cut[NAME_END] > 0 and cut[VALUE_END] > 0 and cut[TIME_END] > 0
            return _blanks(data, at + 1, end) if found else -1
        if data[at] != _COMMA:
            return -1
        at = _blanks(data, at + 1, end)


@compiled
def usual_line(data: Any, start: int, end: int, cut: Any) -> bool:
    """True for a line at [start, end) of the usual shape (the module's docstring), its
    name's text and its value and time tokens noted in ``cut`` (zeros, given)."""
    return _object_end(data, start, end, cut) == end


_READONLY_BYTES = types.Array(types.uint8, 1, "C", readonly=True)


@compiled
def line_spans(data: Any) -> Any:
    """Each newline-separated line's [start, end) in ``data``, rows of 2: how the
    transcoders walk a batch's lines joined (those that came without a scan)."""
    count = 1
    for byte in data:
        if byte == _NEWLINE:
            count += 1
    spans = np.empty((count, 2), dtype=np.int64)
    start = 0
    for line in range(count):
        end = start
        while end < data.size and data[end] != _NEWLINE:
            end += 1
        spans[line, 0], spans[line, 1] = start, end
        start = end + 1
    return spans


@njit((_READONLY_BYTES,), cache=True, nogil=True)
def scan_lines(data: Any) -> tuple[Any, Any, Any]:
    """For each line of ``data`` (lines joined by newlines): is it of the usual shape, its
    cuts, its [start, end) span."""
    count = 1
    for byte in data:
        if byte == _NEWLINE:
            count += 1
    usual = np.zeros(count, dtype=np.bool_)
    cuts = np.zeros((count, CUTS), dtype=np.int64)
    spans = np.empty((count, 2), dtype=np.int64)
    size = data.size
    start = 0
    for line in range(count):
        # the object read up to the buffer's end: a usual line ends where its object does
        end = _object_end(data, start, size, cuts[line])
        if end >= 0 and (end == size or data[end] == _NEWLINE):
            usual[line] = True
        else:
            cuts[line] = 0
            end = start
            while end < size and data[end] != _NEWLINE:
                end += 1
        spans[line, 0], spans[line, 1] = start, end
        start = end + 1
    return usual, cuts, spans


def scan_numbat(lines: list[bytes]) -> Any:
    """For each of ``lines`` (none holding a newline), whether it is of the usual shape:
    a numpy array of booleans."""
    if not lines:
        return np.zeros(0, dtype=np.bool_)
    return scan_lines(np.frombuffer(b"\n".join(lines), dtype=np.uint8))[0]


def decode_scanned(decoder: Decoder, lines: list[bytes], now_ms: int, batch: Batch, keep_scans: bool = True) -> None:
    """``decoder.decode(lines, now_ms, batch)``, but the lines of the usual shape are added
    undecoded, with what the scan found of them (:class:`~._batch.ScannedLines`) when
    ``keep_scans`` (a sink reads it: else it would only hold memory while the batch
    waits): the events and rejections are the decoder's, in order (the events of those
    lines made from them when asked for)."""
    if not lines:
        return
    joined = b"\n".join(lines)
    usual, cuts, spans = scan_lines(np.frombuffer(joined, dtype=np.uint8))
    if len(usual) != len(lines):  # a newline inside a line (not from a framer): the decoder's
        decoder.decode(lines, now_ms, batch)
        return
    if usual.all():
        batch.add_lines(lines, ScannedLines(joined, spans, cuts) if keep_scans else None)
        return
    if not usual.any():
        decoder.decode(lines, now_ms, batch)
        return
    start = 0
    for stop in [*(np.flatnonzero(usual[1:] != usual[:-1]) + 1).tolist(), len(lines)]:
        if usual[start]:
            scanned = ScannedLines(joined, spans[start:stop], cuts[start:stop]) if keep_scans else None
            batch.add_lines(lines[start:stop], scanned)
        else:
            others = Batch()
            decoder.decode(lines[start:stop], now_ms, others)
            batch.extend(others)
            batch.rejections += others.rejections
        start = stop
