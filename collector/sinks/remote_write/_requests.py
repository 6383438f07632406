"""A batch of events as WriteRequests: grouped by series, in time order, at most
``batch_size`` samples each. Sans-I/O.

Prometheus appends a series' samples in time order only: a sample older than the
series' newest, or at its time with another value, makes it refuse the whole request
(400), and within one request it drops such a sample silently. So before anything is
sent: the samples of a batch are grouped by series and sorted by time (a stable sort:
of two samples at one millisecond the later event wins, the other is counted as
``same timestamp``), and a sample not newer than the last one this sink sent for its
series is counted (``out of order``) and dropped. That memory of the last timestamps
(_series.py) holds ``max_series`` series, then forgets them all: a forgotten series
can only cost a refused request, which the sink takes apart (_sink.py).

Speed: an event of a series seen before costs a lookup by its keys' values (as the
InfluxDB encoder's cache does: events with one set of keys share an ``itemgetter``);
the label set is mapped, checked and encoded only the first time, and a refused one is
remembered as the code of its reason. A batch whose events all have one known shape
and known series (the usual one) is looked up with ``map`` alone, no Python loop per
event. Sorting, the memory and the samples' encoding then run over the whole batch at
once in numpy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import pairwise
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from ._mapping import NOT_A_NUMBER, RESERVED, Naming, sample_value
from ._names import BAD_LABEL_NAME, BAD_LABEL_VALUE, BAD_NAME
from ._protobuf import encode_labels, encode_samples, encode_series
from ._series import SeriesTable

#: What the encoder leaves out, by reason (the sink's skipped-events counter).
OUT_OF_ORDER = "out of order"
SAME_TIMESTAMP = "same timestamp"
HEARTBEAT = "heartbeat"
SHAPE_LIMIT = 10_000  #: key sets remembered


#: Why an event is no sample, as a code below zero where a series' number would be.
REASONS = (HEARTBEAT, NOT_A_NUMBER, BAD_NAME, BAD_LABEL_NAME, BAD_LABEL_VALUE)
_CODE = {reason: -1 - index for index, reason in enumerate(REASONS)}
_value_of, _time_of = itemgetter("value"), itemgetter("time")


class _Shape:
    """Events with one set of keys: ``get`` takes (name, *label candidates), and
    ``series`` maps those to the series' number (_series.py), or to a reason's code."""

    __slots__ = ("get", "series", "size")

    def __init__(self, get: Callable[[Mapping[str, Any]], tuple[Any, ...]], size: int) -> None:
        self.get = get
        self.size = size
        self.series: dict[tuple[Any, ...], int] = {}


_NO_SHAPE = _Shape(lambda event: (), -1)


def _name_alone(event: Mapping[str, Any]) -> tuple[Any, ...]:
    return (event["name"],)  # itemgetter of one key gives the value, not a tuple


def _cacheable(identity: tuple[Any, ...]) -> bool:
    """True == 1 == 1.0 as dict keys, yet True is the label "true" and 1 is "1": an
    identity with a non-text 0 or 1 in it is never cached, so none can be confused."""
    return not any(value in (0, 1) for value in identity if value.__class__ is not str)


def _count(left_out: dict[str, int], reason: str, count: int = 1) -> None:
    left_out[reason] = left_out.get(reason, 0) + count


Samples = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.int64]]


class RequestEncoder:
    """Events (or an aggregation's summaries) in, WriteRequests out, uncompressed."""

    def __init__(
        self,
        naming: Naming,
        *,
        batch_size: int = 5_000,
        max_series: int = 100_000,
        summaries: bool = False,
        skip: Callable[[str], bool] | None = None,
    ) -> None:
        self.naming = naming
        self.batch_size = batch_size
        self.summaries = summaries
        self._skip = skip or (lambda name: False)
        self.series = SeriesTable(max_series)
        self._shapes: dict[tuple[str, ...], _Shape] = {}
        self._cached = 0  #: identities in the shapes' caches
        self._summary_labels: dict[tuple[tuple[str, str], ...], int] = {}
        #: Called with (reason, what was refused) the first time a series is refused.
        self.on_refused: Callable[[str, str], None] = lambda reason, example: None

    def encode(self, events: Sequence[Mapping[str, Any]]) -> tuple[list[tuple[bytes, int]], dict[str, int]]:
        """WriteRequests of at most ``batch_size`` samples, each with its sample count, and
        what was left out, by reason."""
        self.begin_batch()
        left_out: dict[str, int] = {}
        return self.requests(self.samples_of(events, left_out), left_out), left_out

    def begin_batch(self) -> None:
        """Before each batch: forget the series when ``max_series`` are held."""
        if self.series.full() or self._cached >= self.series.max_series:
            self._forget_identities()

    def samples_of(self, events: Sequence[Mapping[str, Any]], left_out: dict[str, int]) -> Samples:
        """Each event's (or summary's) samples: series numbers, values, times."""
        if self.summaries:
            return self._summary_samples(events, left_out)
        return self._uniform_samples(events, left_out) or self._event_samples(events, left_out)

    def requests(self, samples: Samples, left_out: dict[str, int]) -> list[tuple[bytes, int]]:
        """The requests of a batch's samples (in the events' order), what they leave out
        counted into ``left_out``."""
        return self._requests(*samples, left_out)

    def number_of(self, event: Mapping[str, Any]) -> int:
        """The number of the event's series, or the code of why it has none (below zero:
        ``REASONS[-1 - code]``)."""
        return self._number_of(event)

    def sample_of(self, event: Mapping[str, Any], left_out: dict[str, int]) -> tuple[int, float, int] | None:
        """One event's sample, or None when it makes none (counted into ``left_out``)."""
        number = self._number_of(event)
        if number < 0:
            _count(left_out, REASONS[-1 - number])
            return None
        value = sample_value(event.get("value"))
        time = event.get("time")
        if value is None or time.__class__ not in (int, float):
            _count(left_out, NOT_A_NUMBER)
            return None
        return number, value, int(time)

    def _forget_identities(self) -> None:
        for shape in self._shapes.values():
            shape.series.clear()
        self._cached = 0
        self._summary_labels.clear()

    # -- events to samples ---------------------------------------------------------------

    def _uniform_samples(self, events: Sequence[Mapping[str, Any]], left_out: dict[str, int]) -> Samples | None:
        """The usual batch, at C speed: every event of one known shape and known series,
        numbers for value and time. None for any other batch (the per-event path)."""
        if not events:
            return None
        shape = self._shapes.get(tuple(events[0]))
        if shape is None or list(map(len, events)).count(shape.size) != len(events):
            return None  # as many keys and all of the shape's: the shape's keys, no others
        try:
            found = list(map(shape.series.get, map(shape.get, events)))
            if None in found:
                return None  # a series not cached yet: the per-event path learns it
            numbers = np.array(found, dtype=np.int64)
            values = np.array(list(map(_value_of, events)))
            times = np.array(list(map(_time_of, events)))
        except (KeyError, TypeError, ValueError, OverflowError):
            return None
        if values.dtype.kind not in "fib" or times.dtype.kind != "i":
            return None  # text, objects, integers past 64 bits, times that are not integers
        values = values.astype(np.float64, copy=False)
        refused = numbers < 0
        if refused.any():
            codes, counts = np.unique(numbers[refused], return_counts=True)
            for code, count in zip(codes.tolist(), counts.tolist(), strict=True):
                _count(left_out, REASONS[-1 - code], count)
            keep = ~refused
            numbers, values, times = numbers[keep], values[keep], times[keep]
        return numbers, values, times

    def _event_samples(self, events: Iterable[Mapping[str, Any]], left_out: dict[str, int]) -> Samples:
        numbers: list[int] = []
        values: list[float] = []
        times: list[int] = []
        shapes = self._shapes
        size, get, known = -1, _NO_SHAPE.get, _NO_SHAPE.series
        for event in events:
            number: int | None = None
            if len(event) == size:
                try:  # noqa: SIM105 - suppress() costs a context manager per event
                    number = known.get(get(event))
                except (KeyError, TypeError):  # other keys, as many; a value that cannot be hashed
                    pass
            if number is None and (shape := shapes.get(tuple(event))) is not None:
                size, get, known = shape.size, shape.get, shape.series
                with contextlib.suppress(TypeError):
                    number = known.get(get(event))
            if number is None:
                number = self._number_of(event)
            if number < 0:
                _count(left_out, REASONS[-1 - number])
                continue
            value = sample_value(event.get("value"))
            time = event.get("time")
            if value is None or time.__class__ not in (int, float):
                _count(left_out, NOT_A_NUMBER)
                continue
            numbers.append(number)
            values.append(value)
            times.append(int(time))
        return _samples(numbers, values, times)

    def _number_of(self, event: Mapping[str, Any]) -> int:
        """The number of the event's series, or the code of why it has none; cached
        when it can be."""
        name = event.get("name")
        if isinstance(name, str) and self._skip(name):
            number = _CODE[HEARTBEAT]
        else:
            mapped = self.naming.event_labels(event)
            if isinstance(mapped, str):
                self.on_refused(mapped, str(name)[:200])
                number = _CODE[mapped]
            else:
                number = self.series.number(encode_labels(mapped))
        shape = self._shape_of(event)
        if shape is not None:
            try:
                identity = shape.get(event)
                if _cacheable(identity) and identity not in shape.series:
                    shape.series[identity] = number
                    self._cached += 1
            except (KeyError, TypeError):  # a list or an object among the values: never cached
                pass
        return number

    def _shape_of(self, event: Mapping[str, Any]) -> _Shape | None:
        keys = tuple(event)
        shape = self._shapes.get(keys)
        if shape is not None:
            return shape
        if "name" not in event or "value" not in event or "time" not in event or len(self._shapes) >= SHAPE_LIMIT:
            return None
        identity = [key for key in keys if key not in RESERVED and self.naming.wanted(key)]
        get = itemgetter("name", *identity) if identity else _name_alone
        shape = self._shapes[keys] = _Shape(get, len(keys))
        return shape

    def _summary_samples(self, summaries: Iterable[Mapping[str, Any]], left_out: dict[str, int]) -> Samples:
        numbers: list[int] = []
        values: list[float] = []
        times: list[int] = []
        cache = self._summary_labels
        for summary in summaries:
            time = summary.get("time")
            if time.__class__ not in (int, float):
                _count(left_out, NOT_A_NUMBER)
                continue
            for labels, value in self.naming.summary_samples(summary):
                if isinstance(labels, str):
                    _count(left_out, labels)
                    if labels != NOT_A_NUMBER:
                        self.on_refused(labels, str(summary.get("name"))[:200])
                    continue
                key = tuple(labels)
                number = cache.get(key)
                if number is None:
                    number = cache[key] = self.series.number(encode_labels(labels))
                numbers.append(number)
                values.append(value)
                times.append(int(time))
        return _samples(numbers, values, times)

    # -- samples to requests -------------------------------------------------------------

    def _requests(
        self,
        numbers: npt.NDArray[np.int64],
        floats: npt.NDArray[np.float64],
        stamps: npt.NDArray[np.int64],
        left_out: dict[str, int],
    ) -> list[tuple[bytes, int]]:
        if not len(numbers):
            return []
        order = np.lexsort((stamps, numbers))  # by series, then time; stable: of equals, the later event last
        numbers, stamps, floats = numbers[order], stamps[order], floats[order]
        keep = np.ones(len(numbers), dtype=bool)
        keep[:-1] = (numbers[:-1] != numbers[1:]) | (stamps[:-1] != stamps[1:])
        if not keep.all():
            _count(left_out, SAME_TIMESTAMP, int((~keep).sum()))
        newer = stamps > self.series.last[numbers]
        if not newer.all():
            _count(left_out, OUT_OF_ORDER, int((keep & ~newer).sum()))
            keep &= newer
        if not keep.all():
            numbers, stamps, floats = numbers[keep], stamps[keep], floats[keep]
        if not len(numbers):
            return []
        ends = np.flatnonzero(np.append(numbers[1:] != numbers[:-1], True))  # each series' last sample
        self.series.sent(numbers[ends], stamps[ends])
        return self._cut(numbers, stamps, floats)

    def _cut(self, numbers: np.ndarray, stamps: np.ndarray, floats: np.ndarray) -> list[tuple[bytes, int]]:
        """Requests of at most ``batch_size`` samples; a series may go on in the next."""
        data, ends = encode_samples(floats, stamps)
        count = len(numbers)
        starts = np.flatnonzero(np.append(True, numbers[1:] != numbers[:-1]))
        cuts = np.union1d(starts, np.arange(0, count, self.batch_size))
        bounds = np.append(cuts, count).tolist()
        offsets = np.append(0, ends).tolist()
        series_at = numbers[cuts].tolist()
        labels = self.series.labels
        requests: list[tuple[bytes, int]] = []
        parts: list[bytes] = []
        first = 0
        for (start, stop), number in zip(pairwise(bounds), series_at, strict=True):
            if start - first >= self.batch_size:
                requests.append((b"".join(parts), start - first))
                parts, first = [], start
            parts.append(encode_series(labels[number], data[offsets[start] : offsets[stop]]))
        requests.append((b"".join(parts), count - first))
        return requests


def _samples(numbers: list[int], values: list[float], times: list[int]) -> Samples:
    """A batch's samples as the arrays the requests are cut from: series numbers, values, ms."""
    return np.array(numbers, dtype=np.int64), np.array(values, dtype=np.float64), np.array(times, dtype=np.int64)
