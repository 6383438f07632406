"""statsd lines straight from the bytes to per-series updates, compiled by numba. Sans-I/O.

Why: a statsd line costs the Python decoder and :meth:`Aggregator.add` together about
2.5 µs (a str, a dict, a regex, a dict update), so one core aggregates some 400k lines a
second; Etsy statsd does a third of that. When no sink takes the raw events, the dicts are
built only to be summed, so a statsd listener that feeds aggregations alone hands its
payloads here instead (collector.listeners' Intake decides, per payload).

:func:`scan_statsd` is one compiled pass over a payload (datagrams or a body joined by
newlines). A line in the usual shape, ``name:value|type`` or ``name:value|type|@rate``,
is taken; every other line is left, byte for byte, for the Python decoder (tags, sets,
events and service checks, timestamps, packed values, exponents, blanks, anything
malformed or too long). Taken means: its series is found in a per-payload hash table of
``(name bytes, kind)`` (first appearance order), and its value, weight (``1 / rate``) and
gauge-delta flag are stored, grouped by series in arrival order. The Aggregator then
looks each series up once (:meth:`Aggregator.add_scan`) and :meth:`StatsdScan.accumulate`
(a second compiled pass) folds each series' lines into its current state, in the same
order and with the same float operations as :meth:`Aggregator.add` would, so the two
paths agree bit for bit (the property tests hold them to it).

The shape taken is a strict subset of the decoder's grammar, chosen so that the value is
read exactly as Python's ``float`` reads it: an ASCII name of printable characters
without ``,`` or ``:`` and not starting with ``_`` (events and service checks start so),
a value of at most 15 digits with an optional sign and decimal point (such a decimal is
``m / 10**k`` with both exact doubles, which one division rounds correctly), types
``c``, ``g``, ``ms``, ``h``, ``d``, a rate of the same digits in (0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit, types

from jit.tables import KEY, VALUE, compiled, first_slot, fnv1a, insert, with_room, with_row

from ._options import Kind

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]

#: Series kinds, as the Aggregator keeps them apart (``ms``, ``h`` and ``d`` share timers).
COUNTER, TIMER, GAUGE = 0, 1, 2
KIND_NAMES: tuple[Kind, ...] = ("counter", "timer", "gauge")

_MAX_DIGITS = 15  #: digits a double holds exactly, so m / 10**k is correctly rounded
_POWERS_OF_TEN = np.array([10.0**exponent for exponent in range(_MAX_DIGITS + 1)])
#: Columns of a series row: where its name starts and ends in the payload, its kind, its lines.
_NAME_START, _NAME_END, _KIND, _LINES = range(4)
#: Columns of a taken line's row: its series, its value, its weight, its gauge-delta flag.
_FIRST_ROWS = 256

_NEWLINE, _COLON, _PIPE, _COMMA, _AT, _DOT, _PLUS, _MINUS, _ZERO, _NINE = b"\n:|,@.+-09"
_UNDERSCORE, _LOW_C, _LOW_G, _LOW_M, _LOW_S, _LOW_H, _LOW_D = b"_cgmshd"
_FIRST_PRINTABLE, _LAST_PRINTABLE = 0x21, 0x7E


@compiled
def _number(data: Any, start: int, end: int, signed: bool) -> tuple[float, int, bool]:
    """The number at ``data[start:]`` up to ``end``: (value, where it stops, ok). Digits with
    an optional point, at most 15 of them, a sign when ``signed``; what Python's int or
    float makes of the same text."""
    at = start
    negative = False
    if signed and at < end and (data[at] == _MINUS or data[at] == _PLUS):
        negative = data[at] == _MINUS
        at += 1
    mantissa = 0
    digits = 0
    decimals = 0
    point = False
    while at < end:
        byte = data[at]
        if _ZERO <= byte <= _NINE:
            mantissa = mantissa * 10 + (byte - _ZERO)
            digits += 1
            if point:
                decimals += 1
        elif byte == _DOT and not point:
            point = True
        else:
            break
        at += 1
    if digits == 0 or digits > _MAX_DIGITS:
        return 0.0, at, False
    if not point:  # an integer: Python's int, then float: -0 is 0
        return float(-mantissa if negative else mantissa), at, True
    value = mantissa / _POWERS_OF_TEN[decimals]
    return (-value if negative else value), at, True


@compiled
def _same_name(data: Any, start: int, end: int, other_start: int, other_end: int) -> bool:
    if end - start != other_end - other_start:
        return False
    for offset in range(end - start):  # noqa: SIM110 - numba compiles no generator for all()
        if data[start + offset] != data[other_start + offset]:
            return False
    return True


@compiled
def _kind(data: Any, start: int, end: int) -> int:
    """The series kind of the statsd type ``data[start:end]``; -1 for a type not taken."""
    length = end - start
    first = data[start] if length > 0 else 0
    if length == 1:
        if first == _LOW_C:
            return COUNTER
        if first == _LOW_G:
            return GAUGE
        if first in (_LOW_H, _LOW_D):
            return TIMER
    elif length == 2 and first == _LOW_M and data[start + 1] == _LOW_S:
        return TIMER
    return -1


@compiled
def _parse(data: Any, start: int, end: int) -> tuple[int, int, float, float, bool, bool]:
    """The line ``data[start:end]``: (where its name ends, its kind, value, weight, gauge
    delta, whether it has a sample rate); kind -1 when the line is not in the shape taken."""
    at = start
    if data[start] == _UNDERSCORE:
        return 0, -1, 0.0, 1.0, False, False
    while at < end and data[at] != _COLON:  # the name: printable ASCII, no comma (an Influx-style tag)
        if not _FIRST_PRINTABLE <= data[at] <= _LAST_PRINTABLE or data[at] == _COMMA:
            return 0, -1, 0.0, 1.0, False, False
        at += 1
    name_end = at
    if not start < name_end < end:
        return 0, -1, 0.0, 1.0, False, False
    value, at, ok = _number(data, name_end + 1, end, True)
    if not ok or at == end or data[at] != _PIPE:
        return 0, -1, 0.0, 1.0, False, False
    type_start = at + 1
    at = type_start
    while at < end and data[at] != _PIPE:
        at += 1
    kind = _kind(data, type_start, at)
    sign = data[name_end + 1]
    delta = kind == GAUGE and sign in (_PLUS, _MINUS)
    if kind < 0 or at == end:
        return name_end, kind, value, 1.0, delta, False
    # a section after the type: a sample rate alone is taken
    if at + 1 == end or data[at + 1] != _AT:
        return 0, -1, 0.0, 1.0, False, False
    rate, at, ok = _number(data, at + 2, end, False)
    if not ok or at != end or not 0.0 < rate <= 1.0:
        return 0, -1, 0.0, 1.0, False, False
    return name_end, kind, value, 1.0 / rate, delta, True


@compiled
def _series_of(data: Any, start: int, end: int, kind: int, table: Any, series: Any, found: int) -> int:  # noqa: PLR0917
    """The number of the series named ``data[start:end]`` of ``kind``; ``found`` for a new one."""
    key = fnv1a(data, start, end) ^ kind
    mask = table.shape[0] - 1
    slot = first_slot(key, mask)
    while table[slot, VALUE] > 0:
        number = table[slot, VALUE] - 1
        if (
            table[slot, KEY] == key
            and series[number, _KIND] == kind
            and _same_name(data, start, end, series[number, _NAME_START], series[number, _NAME_END])
        ):
            return int(number)
        slot = (slot + 1) & mask
    return found


@compiled
def _with_slot(array: Any, used: int) -> Any:
    if used < array.shape[0]:
        return array
    longer = np.empty(array.shape[0] * 2, dtype=array.dtype)
    longer[:used] = array
    return longer


# The three passes are compiled for their one signature when the module is imported (the
# machine code loaded from numba's cache when it is there), not with a listener's first payload.
_READONLY_BYTES = types.Array(types.uint8, 1, "C", readonly=True)
_INTS = types.Array(types.int64, 1, "C")
_ROWS = types.Array(types.int64, 2, "C")
_FLOAT_ROWS = types.Array(types.float64, 2, "C")
_FLOATS = types.Array(types.float64, 1, "C")
_FLAGS = types.Array(types.boolean, 1, "C")


@njit((_READONLY_BYTES, types.int64), cache=True, nogil=True)
def _scan(data: Any, max_line: int) -> tuple[Any, int, Any, Any, int, Any, int, int]:
    """Every line of ``data``: (series rows, series, line values, line series, taken lines,
    left lines as (start, end) rows, left lines, taken lines with a sample rate)."""
    table = np.zeros((_FIRST_ROWS * 2, 2), dtype=np.int64)
    series = np.empty((_FIRST_ROWS, 4), dtype=np.int64)
    values = np.empty((_FIRST_ROWS, 3), dtype=np.float64)  # value, weight, gauge delta
    line_series = np.empty(_FIRST_ROWS, dtype=np.int64)
    left = np.empty((_FIRST_ROWS, 2), dtype=np.int64)
    found = taken = left_count = sampled = 0
    size = data.shape[0]
    start = 0
    while start <= size:
        line_start = end = start
        while end < size and data[end] != _NEWLINE:
            end += 1
        start = end + 1
        if end == line_start:
            continue  # blank: the decoder skips it too
        kind = -1
        if end - line_start <= max_line:
            name_end, kind, value, weight, delta, has_rate = _parse(data, line_start, end)
        if kind < 0:
            left = with_row(left, left_count)
            left[left_count, 0], left[left_count, 1] = line_start, end
            left_count += 1
            continue
        number = _series_of(data, line_start, name_end, kind, table, series, found)
        if number == found:
            table = with_room(table, found)
            insert(table, fnv1a(data, line_start, name_end) ^ kind, number + 1)
            series = with_row(series, found)
            series[number, _NAME_START], series[number, _NAME_END] = line_start, name_end
            series[number, _KIND], series[number, _LINES] = kind, 0
            found += 1
        series[number, _LINES] += 1
        values = with_row(values, taken)
        values[taken, 0], values[taken, 1], values[taken, 2] = value, weight, 1.0 if delta else 0.0
        line_series = _with_slot(line_series, taken)
        line_series[taken] = number
        taken += 1
        sampled += has_rate
    return series, found, values, line_series, taken, left, left_count, sampled


@njit((_ROWS, types.int64, _FLOAT_ROWS, _INTS, types.int64), cache=True, nogil=True)
def _grouped(series: Any, found: int, values: Any, line_series: Any, taken: int) -> tuple[Any, Any]:
    """The taken lines' values grouped by series, in arrival order within each, and where
    each series' lines start (``found + 1`` offsets)."""
    offsets = np.zeros(found + 1, dtype=np.int64)
    for number in range(found):
        offsets[number + 1] = offsets[number] + series[number, _LINES]
    filled = offsets[:found].copy()
    grouped = np.empty((taken, 3), dtype=np.float64)
    for line in range(taken):
        number = line_series[line]
        grouped[filled[number]] = values[line]
        filled[number] += 1
    return grouped, offsets


@njit((_INTS, _INTS, _FLOAT_ROWS, _FLOATS, _FLAGS, _FLAGS), cache=True, nogil=True)
def _accumulate(kinds: Any, offsets: Any, grouped: Any, start: Any, present: Any, take: Any) -> Any:  # noqa: PLR0917
    """Each taken series' state after its lines, from ``start`` (its current state when
    ``present``): a counter's total, a timer's count, a gauge's value; in arrival order,
    with :meth:`Aggregator.add`'s own operations."""
    result = start.copy()
    for number in range(kinds.shape[0]):
        if not take[number]:
            continue
        first, stop = offsets[number], offsets[number + 1]
        kind = kinds[number]
        if kind == COUNTER:
            total = start[number]
            if not present[number]:
                total = grouped[first, 0] * grouped[first, 1]
                first += 1
            for line in range(first, stop):
                total = total + grouped[line, 0] * grouped[line, 1]
            result[number] = total
        elif kind == TIMER:
            count = start[number]
            for line in range(first, stop):
                count += grouped[line, 1]
            result[number] = count
        else:
            level = start[number]
            if not present[number]:
                level = grouped[first, 0]
                first += 1
            for line in range(first, stop):
                value = grouped[line, 0]
                level = level + value if grouped[line, 2] != 0.0 and level != 0.0 else value
            result[number] = level
    return result


@dataclass(frozen=True)
class StatsdScan:
    """What :func:`scan_statsd` found in one payload: the series of its taken lines, their
    values grouped by series, and the lines it left for the Python decoder."""

    names: list[str]  #: each series' name, in first-appearance order
    kinds: IntArray  #: each series' kind (COUNTER, TIMER, GAUGE)
    offsets: IntArray  #: series i's lines are grouped rows offsets[i] to offsets[i + 1]
    grouped: FloatArray  #: per taken line: value, weight (1 / rate), gauge delta (1.0 or 0.0)
    left: list[bytes]  #: the lines not taken, in order, for the decoder
    sampled: int = 0  #: taken lines that carry a sample rate (``|@1`` included)

    @property
    def taken(self) -> int:
        """Lines taken (each one event, as the decoder would have made it)."""
        return int(self.grouped.shape[0])

    def lines_of(self, number: int) -> int:
        return int(self.offsets[number + 1] - self.offsets[number])

    def values_of(self, number: int) -> list[float]:
        """Series ``number``'s values, in arrival order."""
        return self.grouped[self.offsets[number] : self.offsets[number + 1], 0].tolist()  # type: ignore[no-any-return]

    def lines(self, number: int) -> list[tuple[float, float, bool]]:
        """Series ``number``'s lines as (value, weight, gauge delta), in arrival order."""
        rows = self.grouped[self.offsets[number] : self.offsets[number + 1]].tolist()
        return [(value, weight, delta != 0.0) for value, weight, delta in rows]

    def name_set(self) -> set[str]:
        return set(self.names)

    def kind_names(self) -> list[Kind]:
        """Each series' kind, as the Aggregator names it."""
        return [KIND_NAMES[kind] for kind in self.kinds.tolist()]

    def accumulate(self, start: list[float], present: list[bool], take: list[bool]) -> list[float]:
        """Each series' state after its lines (see :func:`_accumulate`), for those in ``take``;
        ``start`` for the others."""
        folded = _accumulate(
            self.kinds,
            self.offsets,
            self.grouped,
            np.array(start, dtype=np.float64),
            np.array(present, dtype=np.bool_),
            np.array(take, dtype=np.bool_),
        )
        return folded.tolist()  # type: ignore[no-any-return]


def scan_statsd(payload: bytes, max_line: int) -> StatsdScan:
    """The series and values of ``payload``'s lines in the usual shape; the rest left."""
    data = np.frombuffer(payload, dtype=np.uint8)
    series, found, values, line_series, taken, left, left_count, sampled = _scan(data, max_line)
    grouped, offsets = _grouped(series, found, values, line_series, taken)
    names = [payload[start:end].decode("ascii") for start, end in series[:found, :2].tolist()]
    left_lines = [payload[start:end] for start, end in left[:left_count].tolist()]
    return StatsdScan(names, series[:found, _KIND].copy(), offsets, grouped, left_lines, sampled)
