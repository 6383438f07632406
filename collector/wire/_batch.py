"""The batches events travel in, from a decoder through the router to the sinks. Sans-I/O.

An event is numbat's (:data:`emitter.event.Event`): a dict with ``name`` (str), ``value``
and ``time`` (ms since the epoch), plus any other fields. Whatever format it arrived in,
every decoder produces this shape, so sinks need to know only one.

Decoders hand on only events every sink can carry: numbers JSON and float64 can hold,
times within :data:`TIME_RANGE_MS`, structures orjson can write. A sink therefore meets
a value it cannot write only through a bug, and then loses that event alone.

Events travel in batches (one datagram, one read from a connection, one HTTP body),
so the per-event cost of routing is a list append, not a task switch. A batch keeps a
JSON line of each numbat event that decodes to exactly that event (most often the line
as it arrived), so sinks that write JSON lines pass those bytes on instead of encoding
them again. It also remembers which listener each run of its events came from, so a
sink that drops one can say where it came from.

A batch may hold lines not decoded yet (:meth:`Batch.add_lines`): lines a listener's
compiled scan found in the usual shape, which the numbat decoder would pass on as
``orjson.loads(line)`` with the line itself. Their events are made only when a consumer
asks (:attr:`Batch.events`, :meth:`Batch.event`), by that same ``loads``, so they are
exactly what the decoder gives; a sink that writes from the lines (``jsonl``,
``forward``, the compiled transcoders) never pays for them.

Such lines may come with what the scan learnt of them (:class:`ScannedLines`: the buffer
it scanned, each line's span in it and where its name, value and time tokens lie), so a
compiled transcoder reads them where they lie instead of joining and scanning them again.
The batch keeps each run of them beside the events it covers (:attr:`Batch.scanned`),
through :meth:`~Batch.slice` and :meth:`~Batch.extend`; events it covers are still lines
in ``raw`` as well, for every consumer that reads those.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import orjson

from emitter.event import Event

#: The times, in ms since the epoch, that every store can hold: InfluxDB keeps
#: nanoseconds in an int64 (years 1677 to 2262); Graphite and Prometheus hold more.
TIME_RANGE_MS = (-(2**63) // 1_000_000 + 1, (2**63 - 1) // 1_000_000)


def joined_lines(raw: Sequence[bytes | None]) -> bytes:
    """``raw`` joined by newlines, an empty line for each None."""
    try:  # the usual batch: every line known (a None raises, sooner than a search for it)
        return b"\n".join(raw)  # type: ignore[arg-type]
    except TypeError:
        return b"\n".join([line or b"" for line in raw])


class ScannedLines:
    """Consecutive lines of the usual shape as the numbat scan found them in ``data``: for
    each, its [start, end) in ``data`` (``spans``, rows of 2) and its name's, value's and
    time's tokens (``cuts``, rows of collector.wire._numbat_scan's CUTS columns). The rows
    are numpy arrays (sliced as views: this module imports no numpy); ``data`` may hold
    other lines too, which no row points at."""

    __slots__ = ("cuts", "data", "spans")

    def __init__(self, data: bytes, spans: Any, cuts: Any) -> None:
        if len(spans) != len(cuts):
            raise ValueError("a span and cuts for each line")
        self.data = data
        self.spans = spans
        self.cuts = cuts

    def __len__(self) -> int:
        return len(self.spans)

    def __repr__(self) -> str:
        return f"ScannedLines({len(self)} lines in {len(self.data)} bytes)"

    def slice(self, start: int, stop: int) -> ScannedLines:
        """Lines ``start`` to ``stop`` (in the same buffer)."""
        return ScannedLines(self.data, self.spans[start:stop], self.cuts[start:stop])

    def lines(self) -> list[bytes]:
        """Each line's bytes (what the scan's caller holds already: for checks)."""
        data = self.data
        return [data[int(start) : int(end)] for start, end in self.spans.tolist()]


def scanned_runs(batch: Batch) -> list[tuple[int, int, ScannedLines | None]]:
    """(start, stop, its scan or None) of each run of the batch's events, in order: the
    runs whose lines come with the listener's scan, and those between them (at least one
    run, perhaps empty): how a compiled transcoder walks a batch."""
    runs: list[tuple[int, int, ScannedLines | None]] = []
    at = 0
    for start, scanned in batch.scanned:
        if start > at:
            runs.append((at, start, None))
        at = start + len(scanned)
        runs.append((start, at, scanned))
    if at < len(batch) or not runs:
        runs.append((at, len(batch), None))
    return runs


@dataclass(slots=True)
class Rejection:
    """One input line that could not be decoded, and why."""

    reason: str
    line: bytes

    MAX_SAMPLE = 200

    @property
    def sample(self) -> str:
        """The start of the line, printable, for logs."""
        return self.line[: self.MAX_SAMPLE].decode("utf-8", "replace")


class Batch:
    """Events decoded together, with their JSON lines where those are known; some events
    perhaps still lines (None in ``_events`` until asked for)."""

    __slots__ = ("_events", "_scanned", "_unread", "origins", "raw", "rejections")

    def __init__(
        self,
        events: list[Event] | None = None,
        raw: list[bytes | None] | None = None,
        rejections: list[Rejection] | None = None,
        origins: list[tuple[int, str]] | None = None,
    ) -> None:
        self._events: list[Event | None] = events if events is not None else []  # type: ignore[assignment]
        #: For each event, a JSON line (no newline) that decodes to exactly the event, else None.
        self.raw: list[bytes | None] = raw if raw is not None else []
        self.rejections: list[Rejection] = rejections if rejections is not None else []
        #: (index of an event, listener): that listener's events start there. Sorted.
        self.origins: list[tuple[int, str]] = origins if origins is not None else []
        #: Events not decoded yet (None in ``_events``).
        self._unread = 0
        #: (index of an event, ScannedLines): the events from there on are those lines. Sorted.
        self._scanned: list[tuple[int, ScannedLines]] = []

    def __len__(self) -> int:
        return len(self._events)

    def __repr__(self) -> str:
        return f"Batch({len(self)} events, {self._unread} not decoded, {len(self.rejections)} rejections)"

    @property
    def events(self) -> list[Event]:
        """Every event, the lines not decoded yet decoded now (once: they stay decoded)."""
        if self._unread:
            loads, events, raw = orjson.loads, self._events, self.raw
            for index, event in enumerate(events):
                if event is None:
                    events[index] = loads(raw[index])  # type: ignore[arg-type]
            self._unread = 0
        return self._events  # type: ignore[return-value]

    @property
    def undecoded(self) -> int:
        """How many events are still lines only."""
        return self._unread

    def event(self, index: int) -> Event:
        """The event at ``index``, decoding it alone if it is still a line."""
        event = self._events[index]
        if event is None:
            event = self._events[index] = orjson.loads(self.raw[index])  # type: ignore[arg-type]
            self._unread -= 1
        return event

    def add(self, event: Event, raw: bytes | None = None) -> None:
        self._events.append(event)
        self.raw.append(raw)

    def add_lines(self, lines: list[bytes], scanned: ScannedLines | None = None) -> None:
        """Lines the numbat decoder would pass on as they are (``orjson.loads(line)``, the
        line itself as its raw line): held as lines until an event is asked for; with what
        the scan found of them, when given (the same lines, in order)."""
        if scanned is not None and len(lines):
            if len(scanned) != len(lines):
                raise ValueError("the scan of other lines")
            self._scanned.append((len(self._events), scanned))
        self._events += [None] * len(lines)
        self.raw += lines
        self._unread += len(lines)

    @property
    def scanned(self) -> list[tuple[int, ScannedLines]]:
        """(index of an event, ScannedLines) of each run of events whose lines come with
        their scan, in order: the events ``index`` to ``index + len(lines)``."""
        return self._scanned

    def reject(self, reason: str, line: bytes) -> None:
        self.rejections.append(Rejection(reason, line))

    def json_lines(self) -> bytes:
        """Every event as newline-terminated JSON, reusing the known lines."""
        raw = self.raw
        try:  # the usual batch: every line known (a None raises, sooner than a search for it)
            return b"\n".join(chain(raw, (b"",))) if raw else b""  # type: ignore[arg-type]
        except TypeError:
            pass
        dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        return b"".join(
            line + b"\n" if line is not None else dumps(event, option=option)
            for event, line in zip(self._events, raw, strict=True)
        )

    # -- where events came from ------------------------------------------------------

    def origin_of(self, index: int) -> str:
        """The listener the event at ``index`` came from ("" when unknown)."""
        at = bisect_right(self.origins, (index, "\uffff")) - 1
        return self.origins[at][1] if at >= 0 else ""

    def listeners(self) -> list[str]:
        """Every listener this batch holds events of."""
        return sorted({name for _, name in self.origins})

    # -- new batches from old (batches are shared by sinks: never changed in place) ---

    def slice(self, start: int, stop: int | None = None) -> Batch:
        """Events ``start`` to ``stop``, with their lines and origins."""
        stop = len(self._events) if stop is None else stop
        origins = [(0, self.origin_of(start))] if start < stop and self.origins else []
        origins += [(at - start, name) for at, name in self.origins if start < at < stop]
        part = Batch(self._events[start:stop], self.raw[start:stop], origins=origins)  # type: ignore[arg-type]
        if self._unread:
            part._unread = part._events.count(None)
        for at, lines in self._scanned:
            first, last = max(at, start), min(at + len(lines), stop)
            if first < last:
                part._scanned.append((first - start, lines.slice(first - at, last - at)))
        return part

    def extend(self, other: Batch) -> None:
        """Append ``other``'s events (this batch must be one nobody else holds)."""
        offset = len(self._events)
        self._events += other._events
        self.raw += other.raw
        self._unread += other._unread
        self.origins += [(at + offset, name) for at, name in other.origins]
        self._scanned += [(at + offset, lines) for at, lines in other._scanned]

    def select(self, keep: Callable[[str], bool]) -> Batch:
        """The events whose name ``keep`` accepts (no rejections: those were counted)."""
        selected = Batch()
        for start, stop, origin in self._runs():
            first = len(selected.events)
            for event, line in zip(self.events[start:stop], self.raw[start:stop], strict=True):
                if keep(event["name"]):
                    selected.events.append(event)
                    selected.raw.append(line)
            if origin is not None and len(selected.events) > first:
                selected.origins.append((first, origin))
        return selected

    def _runs(self) -> list[tuple[int, int, str | None]]:
        """(start, stop, listener) of each run of events from one listener."""
        if not self.origins:
            return [(0, len(self._events), None)]
        stops = [at for at, _ in self.origins[1:]] + [len(self._events)]
        return [(at, stop, name) for (at, name), stop in zip(self.origins, stops, strict=True)]
