"""numbat JSON lines of known series straight to samples, compiled by numba. Sans-I/O.

The :class:`~._requests.RequestEncoder` finds an event's series from its dict. A line
in the usual shape (collector.wire's numbat scan: a flat object of ASCII text, one name,
one numeric value, one integer time) says the same for less: with its value and time
tokens cut out, its bytes always decode to the same event but for value and time, so
they name one series, or one reason to write none (a heartbeat, a label set Prometheus
must not get). One compiled pass over a batch's lines looks each line's series up by
those bytes and reads its value and time; the encoder sees only the events of series
not learnt yet, and those of unusual shape, in order. A series is learnt from the
encoder's own verdict on an event of it (:meth:`RequestEncoder.number_of`), so the
samples (series numbers, values, times) are the encoder's, and so are the requests,
which the encoder cuts from them as ever (sorting, the memory of the last timestamps,
the samples' encoding): the property tests hold the two paths to the same bytes.

A value is read here only when a double holds it exactly as Python reads it: an integer
of at most 15 digits, or a decimal of at most 15 digits and no exponent, which is
``m / 10**k`` with both exact doubles (one division rounds correctly). Other values (an
exponent, more digits) make the line one for the encoder. The series learnt are forgotten
when the encoder forgets its series (``max_series``), or when ``limit`` are held.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, types

from jit.tables import compiled, insert, with_room
from jit.tables import with_row as _with_row

from ...wire import Batch
from ...wire._batch import ScannedLines, joined_lines, scanned_runs
from ...wire._line_keys import NOT_FOUND, key_bytes, look_up
from ...wire._numbat_scan import CUTS, TIME_END, TIME_START, VALUE_END, VALUE_START, line_spans, usual_line
from ._requests import REASONS, RequestEncoder, Samples

#: What the first pass says of a line that has no known series.
UNKNOWN = NOT_FOUND  #: usual shape, series not learnt yet
UNUSUAL = -2  #: not the usual shape, or a value read only by Python: the encoder's

_MINUS, _DOT, _ZERO = b"-.0"
_MAX_DIGITS = 15
_POWERS_OF_TEN = np.array([10.0**exponent for exponent in range(_MAX_DIGITS + 1)])
_FIRST_SLOTS = 1 << 12
_FIRST_KEY_BYTES = 1 << 16


@compiled
def _read_value(data: Any, start: int, end: int) -> tuple[bool, float]:
    """The JSON number at [start, end) as Python's float of it, when read exactly here."""
    at = start + 1 if data[start] == _MINUS else start
    mantissa = 0
    digits = 0
    decimals = -1
    while at < end:
        byte = data[at]
        if byte == _DOT:
            decimals = 0
        elif _ZERO <= byte <= _ZERO + 9:
            mantissa = mantissa * 10 + (byte - _ZERO)
            digits += 1
            if decimals >= 0:
                decimals += 1
        else:
            return False, 0.0  # an exponent
        at += 1
    if digits > _MAX_DIGITS:
        return False, 0.0
    if decimals < 0:  # an integer: -0 is the int 0, whose float is 0.0
        return True, float(-mantissa if start < end and data[start] == _MINUS else mantissa)
    value = mantissa / _POWERS_OF_TEN[decimals]
    return True, -value if data[start] == _MINUS else value


@compiled
def _read_time(data: Any, start: int, end: int) -> int:
    negative = data[start] == _MINUS
    number = 0
    for index in range(start + 1 if negative else start, end):
        number = number * 10 + (data[index] - _ZERO)
    return -number if negative else number


_READONLY_BYTES = types.Array(types.uint8, 1, "C", readonly=True)
_BYTES = types.Array(types.uint8, 1, "C")
_ROWS = types.Array(types.int64, 2, "C")


@compiled
def _look_up(
    data: Any, start: int, end: int, cut: tuple[int, int, int, int], tables: tuple[Any, Any, Any]
) -> tuple[int, float, int, int]:
    """A usual line's key's id (UNKNOWN if not learnt; UNUSUAL when its value is not read
    exactly here), value, time and key's hash; ``cut`` the spans of its value and time."""
    value_start, value_end, time_start, time_end = cut
    exact, value = _read_value(data, value_start, value_end)
    if not exact:
        return UNUSUAL, 0.0, 0, 0
    when = _read_time(data, time_start, time_end)
    slots, keys, key_spans = tables
    found, hashed = look_up(data, start, end, cut, slots, keys, key_spans)
    return found, value, when, hashed


@njit((_READONLY_BYTES, _ROWS, _BYTES, _ROWS), cache=True, nogil=True)
def _classify(data: Any, slots: Any, keys: Any, key_spans: Any) -> tuple[Any, Any, Any, Any, Any, Any]:
    """For each line of ``data``: the id of its key (or UNKNOWN, UNUSUAL), its value, its
    time, its cuts, its span and its key's hash."""
    spans = line_spans(data)
    count = len(spans)
    ids = np.full(count, UNUSUAL, dtype=np.int64)
    values = np.zeros(count, dtype=np.float64)
    times = np.zeros(count, dtype=np.int64)
    hashes = np.zeros(count, dtype=np.int64)
    tables = (slots, keys, key_spans)
    cuts = np.zeros((count, CUTS), dtype=np.int64)
    for line in range(count):
        start, end = spans[line, 0], spans[line, 1]
        if usual_line(data, start, end, cuts[line]):
            cut = (cuts[line, VALUE_START], cuts[line, VALUE_END], cuts[line, TIME_START], cuts[line, TIME_END])
            ids[line], values[line], times[line], hashes[line] = _look_up(data, start, end, cut, tables)
    return ids, values, times, cuts, spans, hashes


@njit((_READONLY_BYTES, _ROWS, _ROWS, _ROWS, _BYTES, _ROWS), cache=True, nogil=True)
def _classify_scanned(  # noqa: PLR0917
    data: Any, spans: Any, cuts: Any, slots: Any, keys: Any, key_spans: Any
) -> tuple[Any, Any, Any, Any]:
    """:func:`_classify` of lines the numbat scan found usual already (``spans`` and
    ``cuts`` its own): the id of each one's key (or UNKNOWN, UNUSUAL), its value, its time
    and its key's hash."""
    count = spans.shape[0]
    ids = np.empty(count, dtype=np.int64)
    values = np.empty(count, dtype=np.float64)
    times = np.empty(count, dtype=np.int64)
    hashes = np.empty(count, dtype=np.int64)
    tables = (slots, keys, key_spans)
    for line in range(count):
        cut = (cuts[line, VALUE_START], cuts[line, VALUE_END], cuts[line, TIME_START], cuts[line, TIME_END])
        ids[line], values[line], times[line], hashes[line] = _look_up(data, spans[line, 0], spans[line, 1], cut, tables)
    return ids, values, times, hashes


@njit((types.int64[:], types.int64[:]), cache=True, nogil=True)
def _numbers_of(ids: Any, numbers_by_id: Any) -> Any:
    """Each line's series number (or reason code) from its key's id; lines without one keep their id."""
    numbers = np.empty(ids.size, dtype=np.int64)
    for line in range(ids.size):
        numbers[line] = numbers_by_id[ids[line]] if ids[line] >= 0 else ids[line]
    return numbers


class LineSamples:
    """Samples for batches of numbat events, from their JSON lines where the series is known.

    ``encoder`` decides everything the compiled path does not, and cuts the requests. At
    most ``limit`` keys are held; past it (or when the encoder forgets its series) all
    are forgotten at the start of the next batch.
    """

    def __init__(self, encoder: RequestEncoder, limit: int) -> None:
        if encoder.summaries:
            raise ValueError("summaries have no lines: they take the encoder's path")
        self.encoder = encoder
        self.limit = limit
        self._forget()

    def __len__(self) -> int:
        """Keys learnt."""
        return self._learnt

    def _forget(self) -> None:
        self._slots = np.zeros((_FIRST_SLOTS, 2), dtype=np.int64)  # [hash, id + 1]
        self._keys = np.empty(_FIRST_KEY_BYTES, dtype=np.uint8)  # learnt keys, end to end
        self._key_spans = np.empty((_FIRST_SLOTS // 2, 2), dtype=np.int64)
        self._numbers = np.empty(_FIRST_SLOTS // 2, dtype=np.int64)  # each key's series number or reason code
        self._learnt = 0
        self._key_bytes = 0
        self._generation = self.encoder.series.generation

    def encode(self, batch: Batch) -> tuple[list[tuple[bytes, int]], dict[str, int]]:
        """What ``encoder.encode(batch.events)`` gives, decoding only the events it must."""
        encoder = self.encoder
        if not batch.undecoded and None in batch.raw:
            return encoder.encode(batch.events)  # events without their lines (statsd, influx...)
        encoder.begin_batch()
        if encoder.series.generation != self._generation or self._learnt >= self.limit:
            self._forget()
        left_out: dict[str, int] = {}
        samples = self._samples(batch, left_out)
        return encoder.requests(samples, left_out), left_out

    def _samples(self, batch: Batch, left_out: dict[str, int]) -> Samples:
        """The batch's samples, run by run of its events: lines that come with the
        listener's scan are read where they lie, the others joined and scanned here."""
        parts = [
            self._part_samples(batch, start, stop, scanned, left_out) for start, stop, scanned in scanned_runs(batch)
        ]
        if len(parts) == 1:
            return parts[0]
        numbers, values, times = zip(*parts, strict=True)
        return np.concatenate(numbers), np.concatenate(values), np.concatenate(times)

    def _part_samples(
        self, batch: Batch, start: int, stop: int, scanned: ScannedLines | None, left_out: dict[str, int]
    ) -> Samples:
        """The samples of events ``start`` to ``stop``, in order."""
        tables = self._slots, self._keys, self._key_spans
        if scanned is not None:
            data = scanned.data
            spans, cuts = scanned.spans, scanned.cuts
            ids, values, times, hashes = _classify_scanned(np.frombuffer(data, dtype=np.uint8), spans, cuts, *tables)
        else:
            data = joined_lines(batch.raw[start:stop])
            ids, values, times, cuts, spans, hashes = _classify(np.frombuffer(data, dtype=np.uint8), *tables)
            if len(ids) != stop - start:  # a newline inside a line: no line of this run is trusted
                return self.encoder.samples_of([batch.event(index) for index in range(start, stop)], left_out)
        numbers = _numbers_of(ids, self._numbers)
        keep = np.ones(len(ids), dtype=bool)
        learnt_here: dict[bytes, int] = {}
        encoder = self.encoder
        for index in np.flatnonzero(ids < 0).tolist():
            if ids[index] == UNKNOWN:
                cut = cuts[index]
                around = (int(cut[VALUE_START]), int(cut[VALUE_END]), int(cut[TIME_START]), int(cut[TIME_END]))
                key = key_bytes(data, int(spans[index, 0]), int(spans[index, 1]), around)
                number = learnt_here.get(key)
                if number is None:
                    number = learnt_here[key] = encoder.number_of(batch.event(start + index))
                    self._learn(key, int(hashes[index]), number)
                numbers[index] = number
                continue
            sample = encoder.sample_of(batch.event(start + index), left_out)
            if sample is None:
                keep[index] = False
            else:
                numbers[index], values[index], times[index] = sample
        refused = (numbers < 0) & keep
        if refused.any():
            codes, counts = np.unique(numbers[refused], return_counts=True)
            for code, count in zip(codes.tolist(), counts.tolist(), strict=True):
                left_out[REASONS[-1 - code]] = left_out.get(REASONS[-1 - code], 0) + count
            keep &= ~refused
        if not keep.all():
            return numbers[keep], values[keep], times[keep]
        return numbers, values, times

    def _learn(self, key: bytes, key_hash: int, number: int) -> None:
        index = self._learnt
        self._slots = with_room(self._slots, index)
        self._key_spans = _with_row(self._key_spans, index)
        if index == len(self._numbers):
            self._numbers = np.concatenate([self._numbers, np.empty(index, dtype=np.int64)])
        end = self._key_bytes + len(key)
        if end > len(self._keys):
            longer = np.empty(max(2 * len(self._keys), end), dtype=np.uint8)
            longer[: self._key_bytes] = self._keys[: self._key_bytes]
            self._keys = longer
        self._keys[self._key_bytes : end] = np.frombuffer(key, dtype=np.uint8)
        self._key_spans[index] = self._key_bytes, end
        self._numbers[index] = number
        insert(self._slots, key_hash, index + 1)
        self._key_bytes = end
        self._learnt += 1
