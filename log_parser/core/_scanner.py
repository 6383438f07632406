"""Combined-log lines recognised byte by byte, compiled by numba. Sans-I/O.

Strategy: one compiled loop reads a whole buffer and gives, for each line it accepts,
exactly what :class:`~log_parser.core.formats.CombinedParser` gives, without a Python
object per line. It accepts only the usual shape, where the parser's regular expression
can match in one way only: printable ASCII fields, the time as ``DD/Mon/YYYY:HH:MM:SS
+ZZZZ`` with a date that exists (within the store's range, 1970 to 9999), a request line
whose path ends at a space (or one with no method at all, ``"-"``), a status and a size in
ASCII digits. Every other line is handed back by offset, for the parser to count or
refuse with its reason.

Downloads come out grouped: each distinct tarball-looking path of a buffer once (by
offset, up to any ``?`` or ``#``), and a count per (path, minute). :class:`KnownPaths`
gives them ids that last from one buffer to the next, so that whether a path is a
package's tarball is decided in Python (:mod:`._bulk`) once per counter, and
:class:`Downloads` sums the (package, period) counts of many buffers in compiled code.

The one thing it does beyond bytes in, offsets out: at import, before numba is imported,
it chooses numba's cache folder (:data:`COMPILED_CACHE`), so that every program that
loads the scanner, numbat-logs under its systemd unit included, has a writable one. Only
:mod:`._counter` imports this module, and only once a count has a use for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jit import use_compiled_cache

from ._records import FIRST_TIME, LAST_TIME, MAX_SIZE
from .formats._base import MAX_HOUR, MAX_MINUTE, MAX_SECOND, MAX_ZONE, MIN_ZONE

#: numba's cache folder, chosen before numba is first imported (numba reads
#: NUMBA_CACHE_DIR then): writable even under the units' ProtectSystem=strict, see
#: jit's ``_cache``. Its loader (:mod:`._counter`) logs the warnings.
COMPILED_CACHE = use_compiled_cache(Path(__file__).parent, os.environ.get("STATE_DIRECTORY"))

from numba import njit, types  # noqa: E402 - only once the cache folder is chosen

from jit.loading import quick_cache_loads  # noqa: E402
from jit.tables import KEY, VALUE, compiled, first_slot, fnv1a, with_room, with_row  # noqa: E402

#: Layout of the figures array the scanner adds to.
REQUESTS, BYTES_LOW, BYTES_HIGH, FIRST_CLASS = 0, 1, 2, 3
FIGURES = FIRST_CLASS + 10  #: one entry per status class digit, 0xx to 9xx
BYTES_CARRY = 10**18  #: bytes are summed in two int64 words: high * BYTES_CARRY + low
MAX_SIZE_DIGITS = len(str(MAX_SIZE))  #: longer sizes go to the parser, which refuses them

Int64Array = np.ndarray[Any, np.dtype[np.int64]]

_NEWLINE, _SPACE, _QUOTE, _NUMBER_SIGN, _DASH, _SLASH, _COLON, _QUESTION, _OPEN, _CLOSE, _PLUS = b'\n "#-/:?[]+'
_DOT, _T, _G, _Z = b".tgz"
_PERCENT = b"%"[0]
_CAPITAL_G, _CAPITAL_E, _CAPITAL_T = b"GET"
_MONTHS = np.array([int.from_bytes(name, "big") for name in (
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
)], dtype=np.int64)  # fmt: skip
_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_ODD = -1  #: what the field readers return for a line that is not of the usual shape

#: Hash tables (jit.tables): [key, value] rows, a value of 0 marking a free slot.
_FIRST_TABLE_SIZE = 1024  #: slots; a table doubles when half full
_MINUTE_BITS = 32  #: a (path, minute) key is path id << 32 | epoch minute (< 2**32 until year 10000)


@dataclass(frozen=True)
class Scanned:
    """What one buffer held, beside the figures added to the caller's array."""

    odd_lines: Int64Array  #: [start, end] of each line left to the parser
    paths: Int64Array  #: [start, end] of each distinct tarball-looking path, before any ``?`` or ``#``
    pairs: Int64Array  #: [path index << 32 | epoch minute, count] per (path, minute)


def scan(buffer: bytes, figures: Int64Array) -> Scanned:
    """Scan every line of ``buffer``: add requests, bytes and status classes of the lines
    it accepts to ``figures``; return the others, and the downloads, as offsets. Holds no
    lock: threads may scan buffers side by side, each with its own ``figures``."""
    return Scanned(*_scan(np.frombuffer(buffer, dtype=np.uint8), figures))


class KnownPaths:
    """The distinct tarball-looking paths one counter has met, across buffers: their bytes
    (in ``arena``), a hash table from their bytes to their id, and what the tarball rule
    made of each (``package_of``: a package id, or -1). Paths are judged in Python once per
    counter, not once per buffer; the (path, minute) counts are folded into (package,
    minute) counts by compiled code."""

    def __init__(self) -> None:
        self.arena = np.zeros(1 << 16, dtype=np.uint8)
        self.table = np.zeros((_FIRST_TABLE_SIZE, 2), dtype=np.int64)
        self.spans = np.zeros((_FIRST_TABLE_SIZE // 2, 2), dtype=np.int64)
        self.used = np.zeros(2, dtype=np.int64)  #: [arena bytes used, paths known]
        self.package_of = np.zeros(_FIRST_TABLE_SIZE // 2, dtype=np.int64)
        self.ids = np.zeros(0, dtype=np.int64)  #: the known-path id of each path of the buffer last resolved

    def __len__(self) -> int:
        return int(self.used[_KNOWN])

    def resolve(self, buffer: bytes, scanned: Scanned) -> range:
        """Give each of the buffer's paths its id (in ``self.ids``); the ids of the paths met
        for the first time, for the caller to judge (their bytes are ``arena[start:end]``
        of their ``spans`` row) and to set in ``package_of``."""
        before = len(self)
        self.ids, self.arena, self.table, self.spans = _resolve(
            np.frombuffer(buffer, dtype=np.uint8), scanned.paths, self.arena, self.table, self.spans, self.used
        )
        if len(self) > len(self.package_of):
            grown = np.zeros(max(len(self), 2 * len(self.package_of)), dtype=np.int64)
            grown[: len(self.package_of)] = self.package_of
            self.package_of = grown
        return range(before, len(self))


class Downloads:
    """Download counts per (package id, period of ``resolution`` seconds, whole minutes),
    summed over buffers by compiled code, taken out as rows when the caller wants them."""

    def __init__(self, resolution: int) -> None:
        self.resolution = resolution
        self._table = np.zeros((_FIRST_TABLE_SIZE, 2), dtype=np.int64)
        self._used = np.zeros(1, dtype=np.int64)

    def __len__(self) -> int:
        return int(self._used[0])

    def add(self, scanned: Scanned, paths: KnownPaths) -> None:
        """The downloads of the buffer ``paths`` last resolved, its paths judged."""
        self._table = _add(scanned.pairs, paths.ids, paths.package_of, self.resolution // 60, self._table, self._used)

    def take(self) -> Int64Array:
        """[package, period start in epoch seconds, count] rows of every count, which are
        then no longer held."""
        rows = _rows(self._table, len(self), self.resolution // 60)
        self._table = np.zeros((_FIRST_TABLE_SIZE, 2), dtype=np.int64)
        self._used[0] = 0
        return rows


def new_figures() -> Int64Array:
    return np.zeros(FIGURES, dtype=np.int64)


def bytes_served(figures: Int64Array) -> int:
    return int(figures[BYTES_HIGH]) * BYTES_CARRY + int(figures[BYTES_LOW])


# The usual shape of a line, field by field. Each reader takes the offset where its field
# starts and returns what follows it (or _ODD); ``end`` is the offset of the line's end.


@compiled
def _after_names(data: Any, at: int, end: int) -> int:
    """After the client, ident and user fields: three runs of printable ASCII, each
    followed by one space (``\\S+ `` three times, where no run can end elsewhere)."""
    for _ in range(3):
        start = at
        while at < end and 0x21 <= data[at] <= 0x7E:
            at += 1
        if at == start or at >= end or data[at] != _SPACE:
            return _ODD
        at += 1
    return at


@compiled
def _digits(data: Any, start: int, count: int) -> int:
    """The number written in ``count`` ASCII digits at ``start``, or _ODD."""
    value = 0
    for index in range(start, start + count):
        digit = data[index] - 48
        if digit < 0 or digit > 9:
            return _ODD
        value = value * 10 + digit
    return value


@compiled
def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return int(era * 146097 + day_of_era - 719468)


@compiled
def _clf_time(data: Any, at: int, end: int) -> int:
    """``[DD/Mon/YYYY:HH:MM:SS +ZZZZ] "`` at ``at`` in epoch seconds, as ``clf_time``
    reads it (a leap second included), or _ODD: a time out of clf_time's ranges too."""
    if at + 30 > end or data[at] != _OPEN:
        return _ODD
    at += 1
    if not (
        data[at + 2] == _SLASH
        and data[at + 6] == _SLASH
        and data[at + 11] == _COLON
        and data[at + 14] == _COLON
        and data[at + 17] == _COLON
        and data[at + 20] == _SPACE
        and (data[at + 21] == _PLUS or data[at + 21] == _DASH)
        and data[at + 26] == _CLOSE
        and data[at + 27] == _SPACE
        and data[at + 28] == _QUOTE
    ):
        return _ODD
    day, year = _digits(data, at, 2), _digits(data, at + 7, 4)
    hour, minute, second = _digits(data, at + 12, 2), _digits(data, at + 15, 2), _digits(data, at + 18, 2)
    zone_hours, zone_minutes = _digits(data, at + 22, 2), _digits(data, at + 24, 2)
    if min(day, year, hour, minute, second, zone_hours, zone_minutes) < 0:
        return _ODD
    if hour > MAX_HOUR or minute > MAX_MINUTE or second > MAX_SECOND or zone_minutes > MAX_MINUTE:
        return _ODD  # the parser refuses them with its reason
    name = (np.int64(data[at + 3]) << 16) | (np.int64(data[at + 4]) << 8) | np.int64(data[at + 5])
    month = 0
    for index in range(12):
        if _MONTHS[index] == name:
            month = index + 1
    leap = month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if month == 0 or day == 0 or day > _DAYS_IN_MONTH[month - 1] + leap:
        return _ODD
    offset = zone_hours * 3600 + zone_minutes * 60
    if data[at + 21] == _DASH:
        offset = -offset
    if offset < MIN_ZONE or offset > MAX_ZONE:
        return _ODD
    moment = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset
    return moment if FIRST_TIME <= moment <= LAST_TIME else _ODD  # the parser refuses it, with its reason


@compiled
def _request_line(data: Any, at: int, end: int) -> tuple[int, int, int, int, bool]:
    """``METHOD /path[ anything]"`` at ``at``: (start and end of the path, end of the path
    before a query or fragment, offset after the closing quote, whether the method is
    GET), with _ODD first for a line of another shape. The path must end at a space:
    were it to end at a quote, ``\\S+`` could take the quote and match on.

    A request line that does not start with a capital (``"-"``, a TLS handshake logged as
    ``"\\x16\\x03..."``, an empty one) can match the expression's second branch only,
    ``[^"]*``, which ends at the first quote: it is a request with no method and no path."""
    if at < end and not 65 <= data[at] <= 90:
        line_start = at
        while at < end and data[at] != _QUOTE:
            at += 1
        if at >= end:
            return _ODD, _ODD, _ODD, _ODD, False
        return line_start, line_start, line_start, at + 1, False
    method = at
    while at < end and 65 <= data[at] <= 90:  # [A-Z]+
        at += 1
    is_get = at - method == 3 and (
        data[method] == _CAPITAL_G and data[method + 1] == _CAPITAL_E and data[method + 2] == _CAPITAL_T
    )
    if at == method or at >= end or data[at] != _SPACE:
        return _ODD, _ODD, _ODD, _ODD, False
    at += 1
    path, name_end = at, _ODD
    while at < end and 0x21 <= data[at] <= 0x7E and data[at] != _QUOTE:
        if name_end == _ODD and (data[at] == _QUESTION or data[at] == _NUMBER_SIGN):
            name_end = at
        at += 1
    path_end = at
    if path_end == path or at >= end or data[at] != _SPACE:
        return _ODD, _ODD, _ODD, _ODD, False
    while at < end and data[at] != _QUOTE:
        at += 1
    if at >= end:
        return _ODD, _ODD, _ODD, _ODD, False
    return path, path_end, path_end if name_end == _ODD else name_end, at + 1, is_get


@compiled
def _status_and_size(data: Any, at: int, end: int) -> tuple[int, int]:
    """`` DDD SIZE`` at ``at`` (SIZE digits or ``-``, then no byte that could be a digit
    to ``\\d``): (status, size), or (_ODD, _ODD)."""
    if at + 6 > end or data[at] != _SPACE or data[at + 4] != _SPACE:
        return _ODD, _ODD
    status = _digits(data, at + 1, 3)
    at += 5
    size = 0
    if data[at] == _DASH:
        at += 1
    else:
        digits = at
        while at < end and 48 <= data[at] <= 57:
            size = size * 10 + (data[at] - 48)
            at += 1
        if at == digits or at - digits > MAX_SIZE_DIGITS:
            return _ODD, _ODD
    if status == _ODD or (at < end and data[at] >= 0x80):
        return _ODD, _ODD
    return status, size


@compiled
def _is_tarball_name(data: Any, start: int, end: int) -> bool:
    """Whether the path may be a tarball's: it ends with ``.tgz``, or a ``%`` among its
    last 12 bytes could decode to it (``%2Etgz``, ``%2E%74%67%7A``). The tarball rule
    decodes and decides, once per distinct path."""
    if end - start > 4 and (
        data[end - 4] == _DOT and data[end - 3] == _T and data[end - 2] == _G and data[end - 1] == _Z
    ):
        return True
    for index in range(max(start, end - 12), end):  # noqa: SIM110 - numba compiles no generator for any()
        if data[index] == _PERCENT:
            return True
    return False


# Distinct paths and (path, minute) counts, in open-addressing hash tables (linear probing,
# sizes powers of two) held in numpy arrays.


@compiled
def _same_bytes(data: Any, start: int, end: int, other_start: int, other_end: int) -> bool:
    if end - start != other_end - other_start:
        return False
    for index in range(end - start):  # noqa: SIM110 - numba compiles no generator for all()
        if data[start + index] != data[other_start + index]:
            return False
    return True


@compiled
def _path_index(data: Any, table: Any, spans: Any, known: int, span: tuple[int, int]) -> int:
    """The index of the path at ``span`` (start, end) among the ``known`` distinct paths
    whose [start, end] are in ``spans``: ``known`` itself for a new one, whose row is then
    added. ``table`` maps FNV hash to index + 1."""
    start, end = span
    key = fnv1a(data, start, end)
    mask = table.shape[0] - 1
    slot = first_slot(key, mask)
    while table[slot, VALUE] > 0:
        index = table[slot, VALUE] - 1
        if table[slot, KEY] == key and _same_bytes(data, start, end, spans[index, 0], spans[index, 1]):
            return int(index)
        slot = (slot + 1) & mask
    table[slot, KEY], table[slot, VALUE] = key, known + 1
    spans[known, 0], spans[known, 1] = start, end
    return known


@compiled
def _count(table: Any, key: int) -> bool:
    """One more for ``key`` in ``table`` (key -> count); True when the key is new."""
    mask = table.shape[0] - 1
    slot = first_slot(key, mask)
    while table[slot, VALUE] > 0:
        if table[slot, KEY] == key:
            table[slot, VALUE] += 1
            return False
        slot = (slot + 1) & mask
    table[slot, KEY], table[slot, VALUE] = key, 1
    return True


_BYTES = types.Array(types.uint8, 1, "C", readonly=True)
_INTS = types.Array(types.int64, 1, "C")
_ROWS = types.Array(types.int64, 2, "C")
_KNOWN = 1  #: KnownPaths.used: [arena bytes used, paths known]


def _scan_lines(data: Any, figures: Any) -> tuple[Int64Array, Int64Array, Int64Array]:
    odd_lines = np.empty((16, 2), dtype=np.int64)
    odd = 0
    paths = np.zeros((_FIRST_TABLE_SIZE, 2), dtype=np.int64)
    path_spans = np.empty((_FIRST_TABLE_SIZE // 2, 2), dtype=np.int64)
    known_paths = 0
    pairs = np.zeros((_FIRST_TABLE_SIZE, 2), dtype=np.int64)
    distinct_pairs = 0
    end = -1
    while end < data.size:
        start = end + 1
        end = start
        while end < data.size and data[end] != _NEWLINE:
            end += 1
        if end == start:
            continue  # a blank line carries no request, for the parser neither
        moment = path_start = name_end = status = size = _ODD
        is_get = False
        at = _after_names(data, start, end)
        if at != _ODD:
            moment = _clf_time(data, at, end)
        if moment != _ODD:
            path_start, _, name_end, at, is_get = _request_line(data, at + 30, end)
        if path_start != _ODD:
            status, size = _status_and_size(data, at, end)
        if status == _ODD:
            odd_lines = with_row(odd_lines, odd)
            odd_lines[odd, 0], odd_lines[odd, 1] = start, end
            odd += 1
            continue
        figures[REQUESTS] += 1
        figures[FIRST_CLASS + status // 100] += 1
        figures[BYTES_LOW] += size
        if figures[BYTES_LOW] >= BYTES_CARRY:
            figures[BYTES_LOW] -= BYTES_CARRY
            figures[BYTES_HIGH] += 1
        if is_get and status == 200 and _is_tarball_name(data, path_start, name_end):
            paths = with_room(paths, known_paths)
            path_spans = with_row(path_spans, known_paths)
            path = _path_index(data, paths, path_spans, known_paths, (path_start, name_end))
            known_paths += path == known_paths
            pairs = with_room(pairs, distinct_pairs)
            distinct_pairs += _count(pairs, (path << _MINUTE_BITS) | (moment // 60))
    return odd_lines[:odd], path_spans[:known_paths], pairs[pairs[:, VALUE] > 0]


def _resolve_paths(data: Any, local: Any, arena: Any, table: Any, spans: Any, used: Any) -> tuple[Any, ...]:  # noqa: PLR0917
    """The known-path id of each of a buffer's paths (``local``: [start, end] rows), the
    new ones copied into ``arena`` and added to ``table`` (FNV hash -> id + 1) and
    ``spans`` (id -> [start, end] in the arena); ``used`` is updated in place."""
    ids = np.empty(local.shape[0], dtype=np.int64)
    for row in range(local.shape[0]):
        start, end = local[row, 0], local[row, 1]
        key = fnv1a(data, start, end)
        table = with_room(table, used[_KNOWN])
        mask = table.shape[0] - 1
        slot = first_slot(key, mask)
        found = -1
        while table[slot, VALUE] > 0:
            index = table[slot, VALUE] - 1
            if table[slot, KEY] == key and _same_in(data, start, end, arena, spans[index, 0], spans[index, 1]):
                found = index
                break
            slot = (slot + 1) & mask
        if found < 0:
            found = used[_KNOWN]
            size = end - start
            if used[0] + size > arena.shape[0]:
                longer = np.zeros(max(2 * arena.shape[0], used[0] + size), dtype=np.uint8)
                longer[: used[0]] = arena[: used[0]]
                arena = longer
            arena[used[0] : used[0] + size] = data[start:end]
            spans = with_row(spans, found)
            spans[found, 0], spans[found, 1] = used[0], used[0] + size
            used[0] += size
            table[slot, KEY], table[slot, VALUE] = key, found + 1
            used[_KNOWN] += 1
        ids[row] = found
    return ids, arena, table, spans


@compiled
def _same_in(data: Any, start: int, end: int, arena: Any, other_start: int, other_end: int) -> bool:  # noqa: PLR0917
    if end - start != other_end - other_start:
        return False
    for index in range(end - start):  # noqa: SIM110 - numba compiles no generator for all()
        if data[start + index] != arena[other_start + index]:
            return False
    return True


def _add_downloads(pairs: Any, ids: Any, package_of: Any, minutes: int, table: Any, used: Any) -> Any:  # noqa: PLR0917
    """Add a buffer's (path, minute) counts to ``table``'s (package, period of ``minutes``)
    counts, the paths that are no package's tarball left out; ``used[0]`` counts its keys.
    The table, grown if it had to."""
    low = (1 << _MINUTE_BITS) - 1
    for row in range(pairs.shape[0]):
        package = package_of[ids[pairs[row, KEY] >> _MINUTE_BITS]]
        if package < 0:
            continue
        key = (package << _MINUTE_BITS) | ((pairs[row, KEY] & low) // minutes)
        table = with_room(table, used[0])
        mask = table.shape[0] - 1
        slot = first_slot(key, mask)
        while table[slot, VALUE] > 0 and table[slot, KEY] != key:
            slot = (slot + 1) & mask
        if table[slot, VALUE] == 0:
            table[slot, KEY] = key
            used[0] += 1
        table[slot, VALUE] += pairs[row, VALUE]
    return table


def _table_rows(table: Any, used: int, minutes: int) -> Int64Array:
    """[package, period start in epoch seconds, count] per key of a downloads table."""
    low = (1 << _MINUTE_BITS) - 1
    rows = np.empty((used, 3), dtype=np.int64)
    filled = 0
    for slot in range(table.shape[0]):
        if table[slot, VALUE] > 0:
            rows[filled, 0] = table[slot, KEY] >> _MINUTE_BITS
            rows[filled, 1] = (table[slot, KEY] & low) * minutes * 60
            rows[filled, 2] = table[slot, VALUE]
            filled += 1
    return rows


# Compiled for their signatures when the module is imported, not at the first buffer (a
# first call that takes seconds would look like a hang), and loaded from numba's cache
# without the registries a compilation needs (jit.loading): half a second saved on every
# start of numbat-logs.
with quick_cache_loads():
    _scan = njit((_BYTES, _INTS), cache=True, nogil=True)(_scan_lines)
    _resolve = njit((_BYTES, _ROWS, types.Array(types.uint8, 1, "C"), _ROWS, _ROWS, _INTS), cache=True, nogil=True)(
        _resolve_paths
    )
    _add = njit((_ROWS, _INTS, _INTS, types.int64, _ROWS, _INTS), cache=True, nogil=True)(_add_downloads)
    _rows = njit((_ROWS, types.int64, types.int64), cache=True, nogil=True)(_table_rows)
