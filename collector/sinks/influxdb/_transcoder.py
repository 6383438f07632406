"""numbat JSON lines of known series straight to line protocol, compiled by numba. Sans-I/O.

The :class:`~._lineprotocol.LineEncoder` finds an event's cached series by
hashing the strings of its freshly decoded dict, and that lookup is most of what it
costs. The event's original JSON line says the same for less: with its value and time
cut out, those bytes always decode to the same event but for value and time, so they
name one series. One compiled pass over a whole batch looks each line's series up by
those bytes and writes ``<series> value=<value> <time>``; the LineEncoder then sees only
the events of series not learnt yet, and those of unusual shape.

A line takes the compiled path only in the usual shape: a flat JSON object without
backslashes, with one ``"value"`` that Point writes digit for digit (a decimal of at
most 15 significant digits, 1e-4 or more, no exponent) and one ``"time"`` that is a
plain non-negative integer. A series is learnt from the LineEncoder's verdict on an
event of it (skip, cardinality guard, a line to write), so the output is the
LineEncoder's, line for line, which the property tests check.

Most lines are of a series already learnt, and for those the pass does not read the JSON
through: it finds the first ``"value":`` and the first ``"time":``, reads the number after
each as the full read would (and as plainly written), and looks the line up by the key
around those two. In a line of the usual shape (no backslash: every quote is JSON's)
``"value":`` can only be its value key and ``"time":`` its time key, and a number's token
holds no quote, colon or letter but ``e``, which a plain number has none of, so cutting two
such numbers out cannot make or move either. A line whose key so cut is a learnt one is
therefore that learnt line with other numbers (at most moved across the blanks beside
them), of the usual shape, of that series. Lines not found take the full read.

Lines that come with the numbat listener's scan (``Batch.scanned``) are not joined or read
again: the scan found them of its usual shape, a strict subset of this one, and where
their value and time tokens lie, so the pass over such a run checks those two numbers
(as above) and looks the key up where the line lies in the scan's buffer. A batch is
walked run by run (``wire._batch.scanned_runs``, as the remote write transcoder walks
it), each run's lines in order, so the LineEncoder meets the same events in the same
order either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from numba import njit, types

from jit.tables import compiled, insert, with_room

from ...wire import Batch, Event
from ...wire._batch import ScannedLines, joined_lines, scanned_runs
from ...wire._line_keys import NOT_FOUND, key_bytes, look_up
from ...wire._numbat_scan import TIME_END as SCANNED_TIME_END
from ...wire._numbat_scan import TIME_START as SCANNED_TIME_START
from ...wire._numbat_scan import VALUE_END as SCANNED_VALUE_END
from ...wire._numbat_scan import VALUE_START as SCANNED_VALUE_START
from ...wire._numbat_scan import _blanks, line_spans  # JSON whitespace and lines, as the scan reads them
from ._lineprotocol import CACHE_LIMIT, LineEncoder

Int64Array = np.ndarray[Any, np.dtype[np.int64]]
ByteArray = np.ndarray[Any, np.dtype[np.uint8]]

#: What the first pass says of a line that has no known series.
UNKNOWN = NOT_FOUND  #: usual shape, series not learnt yet
UNUSUAL = -2  #: not the usual shape: only the LineEncoder can say
#: What the second pass is told of a line the LineEncoder took.
LEFT_OUT = -3  #: no line (skipped, refused by the guard, nothing to write)
GIVEN = -4  #: the LineEncoder's own line, in order among the extras

#: Columns of the cuts array: where the value's token starts, where the text Point writes
#: of it ends, where the token ends; where the time starts and ends.
_VALUE_START, _VALUE_TEXT_END, _VALUE_END, _TIME_START, _TIME_END = range(5)
_MAX_DIGITS = 15  #: significant digits every double carries exactly
_MAX_TIME_DIGITS = 18  #: times in int64 without a second thought

_QUOTE, _BACKSLASH, _COLON, _COMMA, _OPEN, _CLOSE, _MINUS, _DOT, _ZERO, _NINE = b'"\\:,{}-.09'
_SPACE, _NEWLINE, _LOW_T, _LOW_F, _LOW_N, _PLUS, _E, _LOW_E = b" \ntfn+Ee"
_SUFFIX = b" value="

_FIRST_SLOTS = 1 << 12


@dataclass(frozen=True)
class Lines:
    """Line protocol for a batch: one body, and where each line ends in it."""

    body: bytes
    ends: Int64Array  #: exclusive end of each line; lines are joined by a newline

    def __len__(self) -> int:
        return len(self.ends)

    def chunks(self, size: int) -> list[tuple[bytes, int]]:
        """Bodies of at most ``size`` lines each, with their line counts."""
        bodies = []
        start = 0
        for first in range(0, len(self.ends), size):
            last = min(first + size, len(self.ends)) - 1
            end = int(self.ends[last])
            bodies.append((self.body[start:end], last - first + 1))
            start = end + 1
        return bodies

    @classmethod
    def of(cls, lines: Sequence[bytes]) -> Lines:
        lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
        return cls(b"\n".join(lines), np.cumsum(lengths + 1) - 1)

    @classmethod
    def joined(cls, parts: Sequence[Lines]) -> Lines:
        """The lines of ``parts``, one after the other."""
        parts = [part for part in parts if len(part)]
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return cls(b"", np.empty(0, dtype=np.int64))
        offsets = np.cumsum([0] + [len(part.body) + 1 for part in parts[:-1]])
        ends = np.concatenate([part.ends + offset for part, offset in zip(parts, offsets.tolist(), strict=True)])
        return cls(b"\n".join(part.body for part in parts), ends)


class JsonLineTranscoder:
    """Lines for a batch's events, from their JSON lines where the series is known.

    ``encoder`` decides everything the compiled path does not: its configuration must
    be one whose lines are plain (:attr:`LineEncoder.plain`). At most ``limit`` series
    are learnt; later ones take the LineEncoder's path, as they did before.
    """

    def __init__(self, encoder: LineEncoder, limit: int = CACHE_LIMIT) -> None:
        if not encoder.plain:
            raise ValueError("configured fields or integers as integers: lines are not plain")
        self.encoder = encoder
        self.limit = limit
        self._slots = np.zeros((_FIRST_SLOTS, 2), dtype=np.int64)  # [hash, id + 1]
        self._keys = np.empty(1 << 16, dtype=np.uint8)  # learnt keys, end to end
        self._key_spans = np.empty((_FIRST_SLOTS // 2, 2), dtype=np.int64)
        self._prefixes = np.empty(1 << 16, dtype=np.uint8)  # "<series> value=" per id
        self._prefix_spans = np.empty((_FIRST_SLOTS // 2, 2), dtype=np.int64)
        self._learnt = 0
        self._key_bytes = 0
        self._prefix_bytes = 0
        # the compiled helpers _learn calls from Python load from numba's cache at their
        # first call: here, once, rather than in the first batch of a running daemon
        scratch = np.zeros((4, 2), dtype=np.int64)
        insert(with_room(scratch, 0), 1, 1)

    def __len__(self) -> int:
        """Series learnt."""
        return self._learnt

    def encode_all(self, events: Sequence[Event], raw: Sequence[bytes | None]) -> tuple[Lines, dict[str, int]]:
        """What ``LineEncoder.encode_all(events)`` gives, as :class:`Lines`; ``raw`` holds
        each event's JSON line, or None where the event is not its line as sent."""
        left_out = {"skipped": 0, "no line": 0}
        return self._encode_run(events.__getitem__, raw, None, left_out), left_out

    def encode_batch(self, batch: Batch) -> tuple[Lines, dict[str, int]]:
        """:meth:`encode_all` of a batch's events, decoding only those of lines it cannot
        write from the lines (events of new series, lines of unusual shape). It goes run
        by run of the batch's events: lines that come with the listener's scan are read
        where they lie, the others joined and read here."""
        left_out = {"skipped": 0, "no line": 0}
        raw = batch.raw
        parts = [
            self._encode_run(
                partial(_event_after, batch, start),
                raw if stop - start == len(raw) else raw[start:stop],
                scanned,
                left_out,
            )
            for start, stop, scanned in scanned_runs(batch)
        ]
        return Lines.joined(parts), left_out

    def _encode_run(
        self,
        event_at: Callable[[int], Event],
        raw: Sequence[bytes | None],
        scanned: ScannedLines | None,
        left_out: dict[str, int],
    ) -> Lines:
        """The lines of one run of events (``event_at(index)``, ``raw[index]`` each one's
        line), their scan when they come with one; what is left out counted in ``left_out``."""
        if not raw:
            return Lines(b"", np.empty(0, dtype=np.int64))
        tables = self._slots, self._keys, self._key_spans
        if scanned is not None:
            joined = scanned.data
            data = np.frombuffer(joined, dtype=np.uint8)
            spans = scanned.spans
            ids, cuts, hashes = _classify_scanned(data, spans, scanned.cuts, *tables)
        else:
            joined = joined_lines(raw)
            data = np.frombuffer(joined, dtype=np.uint8)
            ids, cuts, spans, hashes = _classify(data, *tables)
            if len(ids) != len(raw):  # a newline inside a line: no line of this run is trusted
                lines, counts = self.encoder.encode_all([event_at(index) for index in range(len(raw))])
                for reason, count in counts.items():
                    left_out[reason] = left_out.get(reason, 0) + count
                return Lines.of(lines)
        extras: list[bytes] = []
        learnt_here: dict[bytes, int] = {}
        for index in np.flatnonzero(ids < 0).tolist():
            key = _key(joined, spans[index], cuts[index]) if ids[index] == UNKNOWN else None
            if key is not None and key in learnt_here:
                ids[index] = learnt_here[key]
                continue
            encoded = self.encoder.encode_checked(event_at(index), left_out)
            if encoded is None:
                ids[index] = LEFT_OUT
            elif key is not None and self._learnt < self.limit:
                ids[index] = learnt_here[key] = self._learn(key, int(hashes[index]), encoded[0])
            else:
                ids[index] = GIVEN
                extras.append(encoded[1].encode())
        given = Lines.of(extras)
        body, ends = _emit(
            data, ids, cuts, self._prefixes, self._prefix_spans, np.frombuffer(given.body, np.uint8), given.ends
        )
        return Lines(body.tobytes(), ends)

    def _learn(self, key: bytes, key_hash: int, series: str) -> int:
        prefix = series.encode() + _SUFFIX
        index = self._learnt
        self._slots = with_room(self._slots, index)
        if index == len(self._key_spans):
            self._key_spans = _longer(self._key_spans, 2 * index)
            self._prefix_spans = _longer(self._prefix_spans, 2 * index)
        self._keys, self._key_bytes = _append(self._keys, self._key_bytes, key, self._key_spans[index])
        self._prefixes, self._prefix_bytes = _append(
            self._prefixes, self._prefix_bytes, prefix, self._prefix_spans[index]
        )
        insert(self._slots, key_hash, index + 1)
        self._learnt += 1
        return index


def _event_after(batch: Batch, start: int, index: int) -> Event:
    """The batch's event ``index`` places after ``start``."""
    return batch.event(start + index)


def _key(joined: bytes, span: Int64Array, cut: Int64Array) -> bytes:
    """The line at ``span`` without its value and time tokens: what names its series."""
    around = (int(cut[_VALUE_START]), int(cut[_VALUE_END]), int(cut[_TIME_START]), int(cut[_TIME_END]))
    return key_bytes(joined, int(span[0]), int(span[1]), around)


def _append(arena: ByteArray, used: int, data: bytes, span: Int64Array) -> tuple[ByteArray, int]:
    """``data`` written after the ``used`` bytes of ``arena`` (grown when short); its
    [start, end] into ``span``."""
    end = used + len(data)
    if end > len(arena):
        longer = np.empty(max(2 * len(arena), end), dtype=np.uint8)
        longer[:used] = arena[:used]
        arena = longer
    arena[used:end] = np.frombuffer(data, dtype=np.uint8)
    span[0], span[1] = used, end
    return arena, end


def _longer(rows: Int64Array, count: int) -> Int64Array:
    longer = np.empty((count, rows.shape[1]), dtype=np.int64)
    longer[: len(rows)] = rows
    return longer


# -- compiled --------------------------------------------------------------------------
# numba compiles no keyword-only arguments: the functions below take many positional ones.
# A line's key is hashed and looked up where it lies by ...wire._line_keys.


@compiled
def _around(cut: Any) -> tuple[int, int, int, int]:
    """Where a line's value and time tokens lie, from its row of cuts: what its key is cut around."""
    return cut[_VALUE_START], cut[_VALUE_END], cut[_TIME_START], cut[_TIME_END]


@compiled
def _string_end(data: Any, at: int, end: int) -> int:
    """The closing quote of a string whose text starts at ``at``; -1 for a string with
    escapes or control characters, which take the LineEncoder's path."""
    while at < end:
        byte = data[at]
        if byte == _QUOTE:
            return at
        if byte == _BACKSLASH or byte < 0x20:
            return -1
        at += 1
    return -1


_OTHER, _VALUE, _TIME = range(3)


@compiled
def _key_kind(data: Any, start: int, end: int) -> int:
    """Which of the keys that matter the key at [start, end) is."""
    if end - start == 4 and data[start] == 116 and data[start + 1] == 105 and data[start + 2] == 109:
        return _TIME if data[start + 3] == 101 else _OTHER  # time
    if end - start == 5 and data[start] == 118 and data[start + 1] == 97 and data[start + 2] == 108:
        return _VALUE if data[start + 3] == 117 and data[start + 4] == 101 else _OTHER  # value
    return _OTHER


@compiled
def _is_digit(byte: int) -> bool:
    return _ZERO <= byte <= _NINE


@compiled
def _plain_decimal(data: Any, start: int, end: int) -> int:
    """Where the text Point writes for the JSON number at [start, end) ends (trailing
    zeros of the fraction, and a bare point, cut): the number's own digits, when it has
    at most 15 significant ones, no exponent, is 1e-4 or more and is not -0. Else -1."""
    at = start + 1 if data[start] == _MINUS else start
    whole_start = at
    while at < end and _is_digit(data[at]):
        at += 1
    whole_end = fraction_start = fraction_end = at
    if at == whole_start:
        return -1
    if at < end and data[at] == _DOT:
        fraction_start = at = at + 1
        while at < end and _is_digit(data[at]):
            at += 1
        fraction_end = at
    if at != end:  # an exponent
        return -1
    while fraction_end > fraction_start and data[fraction_end - 1] == _ZERO:
        fraction_end -= 1
    if whole_end - whole_start == 1 and data[whole_start] == _ZERO:
        first = fraction_start
        while first < fraction_end and data[first] == _ZERO:
            first += 1
        if first == fraction_end:  # zero: "0", but a negative zero is written "-0" by nobody else
            return -1 if start < whole_start else whole_end
        if first - fraction_start >= 4:  # below 1e-4: Point writes an exponent
            return -1
        significant = fraction_end - first
    else:
        significant = whole_end - whole_start + fraction_end - fraction_start
    if significant > _MAX_DIGITS:
        return -1
    return fraction_end if fraction_end > fraction_start else whole_end


@compiled
def _plain_integer(data: Any, start: int, end: int) -> bool:
    if not 0 < end - start <= _MAX_TIME_DIGITS:
        return False
    for index in range(start, end):  # noqa: SIM110 - numba compiles no generator for all()
        if not _is_digit(data[index]):
            return False
    return True


@compiled
def _read_value(data: Any, at: int, end: int, kind: int, cut: Any) -> int:
    """Where the value at ``at`` of a key of ``kind`` ends, its span noted in ``cut`` when
    it is the value or the time; -1 when the line is not of the usual shape."""
    byte = data[at]
    if byte == _QUOTE:
        token_end = _string_end(data, at + 1, end) + 1
        return -1 if token_end == 0 or kind != _OTHER else token_end
    if byte in (_LOW_T, _LOW_F, _LOW_N):
        token_end = at + 1
        while token_end < end and 97 <= data[token_end] <= 122:  # a-z
            token_end += 1
        return -1 if kind != _OTHER else token_end
    if byte != _MINUS and not _is_digit(byte):  # objects and arrays
        return -1
    token_end = at + 1
    while token_end < end and (_is_digit(data[token_end]) or data[token_end] in (_DOT, _MINUS, _PLUS, _E, _LOW_E)):
        token_end += 1
    if kind == _VALUE:
        text_end = _plain_decimal(data, at, token_end)
        if cut[_VALUE_END] or text_end < 0:  # a second value, or one Point writes otherwise
            return -1
        cut[_VALUE_START], cut[_VALUE_TEXT_END], cut[_VALUE_END] = at, text_end, token_end
    elif kind == _TIME:
        if cut[_TIME_END] or not _plain_integer(data, at, token_end):
            return -1
        cut[_TIME_START], cut[_TIME_END] = at, token_end
    return token_end


@compiled
def _is_number_byte(byte: int) -> bool:
    """A byte _read_value takes into a number's token."""
    return _is_digit(byte) or byte in (_DOT, _MINUS, _PLUS, _E, _LOW_E)


@compiled
def _keys_found(data: Any, start: int, end: int) -> tuple[int, int]:
    """Just past the first ``"value":`` and the first ``"time":`` of the line; -1 where
    there is none."""
    value_at = time_at = -1
    at = start
    while at + 7 <= end:
        if data[at] == _QUOTE:
            following = data[at + 1]
            if (
                following == 118  # "value":
                and value_at < 0
                and at + 8 <= end
                and data[at + 2] == 97
                and data[at + 3] == 108
                and data[at + 4] == 117
                and data[at + 5] == 101
                and data[at + 6] == _QUOTE
                and data[at + 7] == _COLON
            ):
                value_at = at + 8
            elif (
                following == 116  # "time":
                and time_at < 0
                and data[at + 2] == 105
                and data[at + 3] == 109
                and data[at + 4] == 101
                and data[at + 5] == _QUOTE
                and data[at + 6] == _COLON
            ):
                time_at = at + 7
            if value_at >= 0 and time_at >= 0:
                break
        at += 1
    return value_at, time_at


@compiled
def _quick_read(data: Any, start: int, end: int, cut: Any) -> bool:
    """The value and time tokens after the first ``"value":`` and ``"time":``, read and
    checked as _read_value reads and checks them, into ``cut``; False where either is
    missing or not one the compiled path writes. Nothing else of the line is read: only
    its key, found learnt, makes it a line of the usual shape (see the module's top)."""
    value_at, time_at = _keys_found(data, start, end)
    if value_at < 0 or time_at < 0:
        return False
    at = _blanks(data, value_at, end)
    if at >= end or (data[at] != _MINUS and not _is_digit(data[at])):
        return False
    token_end = at + 1
    while token_end < end and _is_number_byte(data[token_end]):
        token_end += 1
    text_end = _plain_decimal(data, at, token_end)
    if text_end < 0:
        return False
    cut[_VALUE_START], cut[_VALUE_TEXT_END], cut[_VALUE_END] = at, text_end, token_end
    at = _blanks(data, time_at, end)
    token_end = at
    while token_end < end and _is_number_byte(data[token_end]):
        token_end += 1
    if not _plain_integer(data, at, token_end):
        return False
    cut[_TIME_START], cut[_TIME_END] = at, token_end
    return True


@compiled
def _read_object(data: Any, start: int, end: int, cut: Any) -> bool:
    """True for a line of the usual shape, with its value and time tokens in ``cut``
    (zeros until found). The line is one the decoder took, so it holds a name."""
    at = _blanks(data, start, end)
    if at >= end or data[at] != _OPEN:
        return False
    at = _blanks(data, at + 1, end)
    while True:
        if at >= end or data[at] != _QUOTE:
            return False
        key_end = _string_end(data, at + 1, end)
        if key_end < 0:
            return False
        kind = _key_kind(data, at + 1, key_end)
        at = _blanks(data, key_end + 1, end)
        if at >= end or data[at] != _COLON:
            return False
        at = _blanks(data, at + 1, end)
        if at >= end:
            return False
        at = _blanks(data, _read_value(data, at, end, kind, cut), end)
        if at < 0 or at >= end:
            return False
        if data[at] == _CLOSE:
            return cut[_VALUE_END] > 0 and cut[_TIME_END] > 0 and _blanks(data, at + 1, end) == end
        if data[at] != _COMMA:
            return False
        at = _blanks(data, at + 1, end)


@compiled
def _copy(body: Any, at: int, source: Any, start: int, end: int) -> int:
    body[at : at + end - start] = source[start:end]
    return at + end - start


_READONLY_BYTES = types.Array(types.uint8, 1, "C", readonly=True)
_BYTES = types.Array(types.uint8, 1, "C")
_INTS = types.Array(types.int64, 1, "C")
_ROWS = types.Array(types.int64, 2, "C")


# The two passes are compiled for their one signature when the module is imported: a
# first batch that takes seconds would look like a hang.
@njit((_READONLY_BYTES, _ROWS, _BYTES, _ROWS), cache=True, nogil=True)
def _classify(
    data: Any, slots: Any, keys: Any, key_spans: Any
) -> tuple[Int64Array, Int64Array, Int64Array, Int64Array]:
    """For each line of ``data``: its series id (or UNKNOWN, UNUSUAL), its cuts, its
    span, and, for a line of the usual shape, its key's hash."""
    spans = line_spans(data)
    count = len(spans)
    ids = np.empty(count, dtype=np.int64)
    cuts = np.zeros((count, 5), dtype=np.int64)
    hashes = np.zeros(count, dtype=np.int64)
    for line in range(count):
        start, end = spans[line, 0], spans[line, 1]
        cut = cuts[line]
        ids[line] = UNUSUAL
        if _quick_read(data, start, end, cut):  # a known series, most often
            around = _around(cut)
            found, _ = look_up(data, start, end, around, slots, keys, key_spans)
            if found >= 0:
                ids[line] = found
            else:
                cut[:] = 0
        if ids[line] == UNUSUAL and _read_object(data, start, end, cut):
            around = _around(cut)
            ids[line], hashes[line] = look_up(data, start, end, around, slots, keys, key_spans)
    return ids, cuts, spans, hashes


@njit((_READONLY_BYTES, _ROWS, _ROWS, _ROWS, _BYTES, _ROWS), cache=True, nogil=True)
def _classify_scanned(  # noqa: PLR0917
    data: Any, spans: Any, scanned_cuts: Any, slots: Any, keys: Any, key_spans: Any
) -> tuple[Int64Array, Int64Array, Int64Array]:
    """:func:`_classify` of lines the numbat scan found usual already (``spans`` and
    ``scanned_cuts`` its own: such a line is of the usual shape here too): each one's
    series id (or UNKNOWN; UNUSUAL for a value or time Point writes otherwise), its cuts
    and its key's hash."""
    count = spans.shape[0]
    ids = np.full(count, UNUSUAL, dtype=np.int64)
    cuts = np.zeros((count, 5), dtype=np.int64)
    hashes = np.zeros(count, dtype=np.int64)
    for line in range(count):
        scanned = scanned_cuts[line]
        value_start, value_end = scanned[SCANNED_VALUE_START], scanned[SCANNED_VALUE_END]
        time_start, time_end = scanned[SCANNED_TIME_START], scanned[SCANNED_TIME_END]
        text_end = _plain_decimal(data, value_start, value_end)
        if text_end < 0 or not _plain_integer(data, time_start, time_end):
            continue
        cut = cuts[line]
        cut[_VALUE_START], cut[_VALUE_TEXT_END], cut[_VALUE_END] = value_start, text_end, value_end
        cut[_TIME_START], cut[_TIME_END] = time_start, time_end
        ids[line], hashes[line] = look_up(
            data, spans[line, 0], spans[line, 1], (value_start, value_end, time_start, time_end), slots, keys, key_spans
        )
    return ids, cuts, hashes


@njit((_READONLY_BYTES, _INTS, _ROWS, _BYTES, _ROWS, _READONLY_BYTES, _INTS), cache=True, nogil=True)
def _emit(  # noqa: PLR0917
    data: Any, ids: Any, cuts: Any, prefixes: Any, prefix_spans: Any, given: Any, given_ends: Any
) -> tuple[ByteArray, Int64Array]:
    """The body: each line of a known series as prefix, value and time, each GIVEN line
    from ``given`` in turn, joined by newlines; and where each line ends."""
    size = given.size + 1
    count = given_ends.size
    for line in range(ids.size):
        index = ids[line]
        if index >= 0:
            size += prefix_spans[index, 1] - prefix_spans[index, 0] + 1
            size += (
                cuts[line, _VALUE_TEXT_END]
                - cuts[line, _VALUE_START]
                + cuts[line, _TIME_END]
                - cuts[line, _TIME_START]
                + 1
            )
            count += 1
    body = np.empty(size, dtype=np.uint8)
    ends = np.empty(count, dtype=np.int64)
    at = written = given_line = given_start = 0
    for line in range(ids.size):
        index = ids[line]
        if index < 0 and index != GIVEN:
            continue
        if written:
            body[at] = _NEWLINE
            at += 1
        if index >= 0:
            at = _copy(body, at, prefixes, prefix_spans[index, 0], prefix_spans[index, 1])
            at = _copy(body, at, data, cuts[line, _VALUE_START], cuts[line, _VALUE_TEXT_END])
            body[at] = _SPACE
            at = _copy(body, at + 1, data, cuts[line, _TIME_START], cuts[line, _TIME_END])
        else:
            at = _copy(body, at, given, given_start, given_ends[given_line])
            given_start = given_ends[given_line] + 1
            given_line += 1
        ends[written] = at
        written += 1
    return body[:at], ends
