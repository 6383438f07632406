"""``numbat-logs live``: count downloads as lines arrive, flush them to the downloads store
every few seconds, and send the operational figures through the emitter.

Strategy: an input (a followed file or stdin, :mod:`._inputs`; a syslog listener,
:mod:`._syslog`) runs as a task and hands its lines to :meth:`Live.handle_lines`, which
counts them at once into the current tally with the counter the core chooses for the
format (:func:`~log_parser.core.counter_for`). A timer swaps the tally for a new one every
``flush_interval`` seconds and writes its downloads to the store (in a worker thread:
SQLite blocks) and its figures to the emitter. With ``--format auto``, lines are held
until the format can be told, a bounded number of them. SIGTERM or SIGINT cancels the
input, flushes what is counted, and the command exits 0.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import trio

from emitter import Emitter

from ..core import FormatCounter, Tally, counter_for, detect_format, warm_for
from ..core.formats import NOTHING_TO_TELL
from ..store import open_store, to_day_counts

#: With ``--format auto``: lines held before the format is first guessed, and at most
#: held while it cannot be told (past that they are refused, counted, and guessing goes
#: on with the lines that follow).
DETECT_AFTER, MAX_UNDETECTED = 20, 10_000
#: The reason a line is refused for while the format cannot be told.
UNDETECTED = "cannot tell the log format"


class LineHandler(Protocol):
    """What an input gives its lines to: the live job."""

    async def handle_lines(self, lines: list[bytes]) -> None:
        """Count ``lines`` (each one line or syslog message, without its newline)."""

    def refuse_lines(self, reason: str, count: int = 1) -> None:
        """Count lines the input refused before any parser saw them (``line too long``)."""

    def count_event(self, event: str, count: int = 1) -> None:
        """Count what happened to an input beside its lines (a connection refused)."""


#: An input: runs until its lines end (stdin closed) or it is cancelled.
LineInput = Callable[[LineHandler], Awaitable[None]]


@dataclass
class LiveOptions:
    db: str
    format: str = "auto"
    flush_interval: float = 5.0
    poll_interval: float = 0.25
    from_start: bool = False
    emit_uri: str | None = None
    app: str = "numbat-logs"
    json_fields: dict[str, str] = field(default_factory=dict)  #: our field -> the log's key (JSON messages)


class Live:
    """The counting state the input feeds, flushed on a timer and at the end."""

    def __init__(self, options: LiveOptions) -> None:
        self.options = options
        self.store = open_store(options.db)
        self.tally = Tally()
        self.events: Counter[str] = Counter()  #: the input's events since the last flush, by name
        self.counter: FormatCounter | None = None
        if options.format != "auto":
            self.counter = counter_for(options.format, options.json_fields)
        warm_for(options.format)  # a long run: load the compiled scanner now, never inside the loop
        self._pending: list[bytes] = []  # lines waiting for format detection
        self._detect_at = DETECT_AFTER  # pending lines at the next try: doubled after each miss
        self.emitter = Emitter(options.emit_uri, app=options.app) if options.emit_uri else None

    async def handle_lines(self, lines: list[bytes]) -> None:
        if self.counter is None:
            self._pending += lines
            if len(self._pending) < self._detect_at or not self._detect(final=False):
                return
            lines, self._pending = self._pending, []
        assert self.counter is not None
        self.counter.count_messages(lines, self.tally)
        await trio.lowlevel.checkpoint()

    def refuse_lines(self, reason: str, count: int = 1) -> None:
        self.tally.rejected[reason] += count

    def count_event(self, event: str, count: int = 1) -> None:
        self.events[event] += count

    def _detect(self, *, final: bool) -> bool:
        """Choose the counter from the pending lines, if they tell the format. When they
        cannot, and there are too many of them to hold (or none will follow: ``final``),
        they are refused, counted, and dropped; lines that carry no request (blank,
        comments) are dropped quietly."""
        texts = [line.decode("utf-8", "replace") for line in self._pending]
        detected = detect_format(texts, self.options.json_fields)
        if detected is not None and detected != NOTHING_TO_TELL:
            self.counter = counter_for(detected, self.options.json_fields)
            return True
        if final or len(self._pending) >= MAX_UNDETECTED:
            if detected is None:
                undetected = sum(bool(line.strip()) and not line.startswith(b"#") for line in self._pending)
                self.tally.rejected[UNDETECTED] += undetected
            self._pending = []
        self._detect_at = max(DETECT_AFTER, min(2 * len(self._pending), MAX_UNDETECTED))
        return False

    async def flush(self) -> None:
        if self.counter is None and self._pending and self._detect(final=True):  # few lines: the best guess
            assert self.counter is not None
            self.counter.count_messages(self._pending, self.tally)
            self._pending = []
        tally, self.tally = self.tally, Tally()
        events, self.events = self.events, Counter()
        if tally.downloads:
            counts = to_day_counts(tally.downloads.items())
            await trio.to_thread.run_sync(self.store.add_live, counts)
        self._emit(tally, events)

    def _emit(self, tally: Tally, events: Counter[str]) -> None:
        if self.emitter is None:
            return
        metric = self.emitter.metric
        metric("requests", tally.requests)
        metric("downloads", tally.total_downloads)
        metric("bytes", tally.bytes_served)
        metric("rejected", sum(tally.rejected.values()))
        for status_class, count in tally.by_status_class.items():
            metric("requests.by_status", count, status_class=status_class)
        if tally.cache_hit_ratio is not None:
            metric("cache_hit_ratio", tally.cache_hit_ratio)
        for event, count in events.items():
            metric(f"input.{event}", count)

    async def run(self, line_input: LineInput) -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._flush_periodically)
                nursery.start_soon(self._read_then_stop, line_input, nursery.cancel_scope)
                async for _ in signals:
                    break
                nursery.cancel_scope.cancel()
        await self.flush()  # nothing counted is lost on a clean stop
        self.store.close()
        if self.emitter is not None:
            self.emitter.close()

    async def _read_then_stop(self, line_input: LineInput, scope: trio.CancelScope) -> None:
        await line_input(self)
        scope.cancel()  # the input ended (stdin closed)

    async def _flush_periodically(self) -> None:
        while True:
            await trio.sleep(self.options.flush_interval)
            await self.flush()
