"""What every listener does with what it reads: bound, decode, count, report, publish.

The line-length bound lives here, so it holds on every listener kind alike: a datagram's
or an HTTP body's lines are checked in one pass per batch (the framer of a stream has
already checked its own, and says how many it refused). A refused line becomes a
rejection like a malformed one, so the HTTP listener's answer counts it too.

Two compiled scans spare the decoder where they can. statsd lines for aggregations alone:
:meth:`Intake._scan`. numbat JSON lines when every sink writes from the lines
(``Router.takes_lines``): collector.wire's ``scan_numbat`` finds the lines the decoder
would pass on as they are, which go on undecoded (``Batch.add_lines``), while every other
line goes through the decoder in order, counted and refused as ever.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..config import Limits, ListenerConfig
from ..observe import FloodGate, SelfMetrics, log
from ..wire import Batch, Decoder, Event, Rejection, decoder_for, drop_long_lines
from ._descriptors import ConnectionBudget

if TYPE_CHECKING:
    from ..aggregate._statsd_scan import StatsdScan

LINE_TOO_LONG = "line too long"


class Router(Protocol):
    """Where the intake publishes its batches (the router, for the daemon)."""

    async def publish(self, batch: Batch) -> None: ...

    def aggregates_alone(self) -> bool:
        """Do aggregations alone take the events (no sink takes them raw)?"""

    def takes_lines(self) -> bool:
        """Does every consumer of the raw events write from their lines?"""

    def takes_scans(self) -> bool:
        """Does a sink read the scan of those lines too?"""

    async def publish_scanned(self, scan: StatsdScan, batch: Batch, everything: Callable[[], list[Event]]) -> None:
        """The lines a statsd scan took, the batch of the payload's other lines, and (for an
        aggregation that must take the payload in order) a way to decode all of it."""


def scan_statsd() -> Callable[[bytes, int], StatsdScan]:
    """collector.aggregate's compiled statsd scan, imported at first use: numba is loaded
    only by a daemon that has a statsd listener and an aggregation."""
    from ..aggregate._statsd_scan import scan_statsd as scan  # noqa: PLC0415 - numba, loaded only when used

    return scan


#: collector.wire's decode_scanned: (decoder, lines, now_ms, batch, keep_scans).
ScannedDecode = Callable[[Decoder, list[bytes], int, Batch, bool], None]


def scan_numbat() -> ScannedDecode:
    """collector.wire's numbat decoding behind its compiled scan, imported at first use (numba)."""
    from ..wire._numbat_scan import decode_scanned  # noqa: PLC0415 - numba, loaded only when used

    return decode_scanned


class Intake:
    """One listener's: its decoder (the one :func:`~collector.wire.decoder_for` gives for
    its format), its bounds, its counters, and where its batches go."""

    def __init__(
        self,
        config: ListenerConfig,
        limits: Limits,
        router: Router,
        metrics: SelfMetrics,
        flood: FloodGate,
        *,
        budget: ConnectionBudget | None = None,
    ) -> None:
        self.config = config
        self.limits = limits
        self.name = config.name
        self.decoder = decoder_for(config.format, config.precision)
        self.router = router
        self.metrics = metrics
        self.flood = flood
        #: Shared by every listener of the process (see _descriptors.py).
        self.budget = budget if budget is not None else ConnectionBudget(limits.max_connections)
        self._counters: dict[str, tuple[Any, Any, Any]] = {}
        #: statsd lines go through the compiled scan when aggregations alone take them.
        self._scans = self.decoder.format == "statsd" and config.statsd_scan
        #: The scan itself, imported once: now when it will be used at once (numba compiles,
        #: or loads from its cache, before the first datagrams), else at the first payload.
        self._scanner: Callable[[bytes, int], StatsdScan] | None = None
        if self._scans and router.aggregates_alone():
            self._scanner = scan_statsd()
        #: numbat lines of the usual shape travel undecoded while every sink writes from lines.
        self._numbat_scanner: ScannedDecode | None = None
        if self.decoder.format == "numbat" and router.takes_lines():
            self._numbat_scanner = scan_numbat()

    def _counters_for(self, fmt: str) -> tuple[Any, Any, Any]:
        counters = self._counters.get(fmt)
        if counters is None:
            metrics, labels = self.metrics, (self.name, fmt)
            counters = self._counters[fmt] = (
                metrics.received_bytes.labels(*labels),
                metrics.received_messages.labels(*labels),
                metrics.decoded.labels(*labels),
            )
        return counters

    def decode(
        self,
        lines: list[bytes],
        *,
        size: int,
        messages: int = 1,
        too_long: int | None = None,
        decoder: Decoder | None = None,
    ) -> Batch:
        """Bound, decode and count; the caller publishes (or answers an HTTP client first).

        ``too_long`` is for a caller that framed the lines itself: how many it refused
        for their length. Without it the lines are bounded here."""
        decoder = decoder or self.decoder
        decoded = self._decoded(lines, too_long, decoder)
        if decoded is None:
            return Batch()
        batch, too_long = decoded
        self._count(batch, decoder.format, size, messages, too_long)
        return batch

    def _decoded(self, lines: list[bytes], too_long: int | None, decoder: Decoder) -> tuple[Batch, int] | None:
        """The batch of ``lines`` and the lines refused for their length; None when the
        decoder failed (counted and logged here)."""
        batch = Batch(origins=[(0, self.name)])  # so a sink that drops an event can say where from
        if too_long is None:
            lines, long_lines = drop_long_lines(lines, self.limits.max_line_bytes)
            batch.rejections.extend(Rejection(LINE_TOO_LONG, line[: Rejection.MAX_SAMPLE]) for line in long_lines)
            too_long = 0
        try:
            if decoder.format == "numbat" and lines and self.router.takes_lines():
                if self._numbat_scanner is None:
                    self._numbat_scanner = scan_numbat()
                now_ms = time.time_ns() // 1_000_000
                self._numbat_scanner(decoder, lines, now_ms, batch, self.router.takes_scans())
            else:
                decoder.decode(lines, time.time_ns() // 1_000_000, batch)
        except Exception:  # a decoder bug must cost this read, not the daemon
            log.exception("decoder failed", extra={"listener": self.name, "format": decoder.format})
            self.refuse(decoder.format, "decoder error", len(lines), sample=b"")
            too_long += sum(rejection.reason == LINE_TOO_LONG for rejection in batch.rejections)
            if too_long:
                self.refuse(decoder.format, LINE_TOO_LONG, too_long, sample=b"")
            return None
        return batch, too_long

    def _count(self, batch: Batch, fmt: str, size: int, messages: int, too_long: int, scanned: int = 0) -> None:  # noqa: PLR0917
        """What arrived, what was decoded (``scanned``: events the statsd scan took), what was refused."""
        received_bytes, received_messages, decoded = self._counters_for(fmt)
        received_bytes.inc(size)
        if messages:
            received_messages.inc(messages)
        if len(batch) or scanned:
            decoded.inc(len(batch) + scanned)
        if too_long:
            self.refuse(fmt, LINE_TOO_LONG, too_long, sample=b"")
        for rejection in batch.rejections:
            self.refuse(fmt, rejection.reason, 1, sample=rejection.line)

    def refuse(self, fmt: str, reason: str, count: int, sample: bytes) -> None:
        self.metrics.rejected.labels(self.name, fmt, reason).inc(count)
        self.flood.warning(
            f"rejected:{self.name}:{reason}",
            "input rejected",
            listener=self.name,
            format=fmt,
            reason=reason,
            count=count,
            sample=sample[:200].decode("utf-8", "replace"),
        )

    async def receive(self, lines: list[bytes], *, size: int, messages: int = 1, too_long: int | None = None) -> None:
        """What a listener read, decoded and published."""
        if self._scans and self.router.aggregates_alone():
            await self._scan(b"\n".join(lines), size, messages, too_long)
        else:
            await self.router.publish(self.decode(lines, size=size, messages=messages, too_long=too_long))

    async def receive_payload(self, payload: bytes, *, size: int, messages: int) -> None:
        """Datagrams joined by newlines, decoded and published."""
        if self._scans and self.router.aggregates_alone():
            await self._scan(payload, size, messages, None)
        else:
            await self.router.publish(self.decode(payload.split(b"\n"), size=size, messages=messages))

    async def _scan(self, payload: bytes, size: int, messages: int, too_long: int | None) -> None:
        """statsd lines for aggregations alone: the usual ones straight from the bytes into
        the aggregators (collector.aggregate's scan), the others through the decoder, as
        events; all of them decoded, in order, for an aggregation that needs them so."""
        if self._scanner is None:
            self._scanner = scan_statsd()
        scan = self._scanner(payload, self.limits.max_line_bytes)
        decoded = self._decoded(scan.left, too_long, self.decoder)
        # a decoder bug costs the lines left to it (counted there), not those the scan took
        batch, too_long = decoded if decoded is not None else (Batch(origins=[(0, self.name)]), 0)
        self._count(batch, self.decoder.format, size, messages, too_long, scanned=scan.taken)
        await self.router.publish_scanned(scan, batch, lambda: self._events_of(payload))

    def _events_of(self, payload: bytes) -> list[Event]:
        """Every event of ``payload``, in order (counted already, as scanned and decoded)."""
        decoded = self._decoded(payload.split(b"\n"), None, self.decoder)
        return decoded[0].events if decoded is not None else []
