"""What every listener does with what it reads: bound, decode, count, report, publish.

The line-length bound lives here, so it holds on every listener kind alike: a datagram's
or an HTTP body's lines are checked in one pass per batch (the framer of a stream has
already checked its own, and says how many it refused). A refused line becomes a
rejection like a malformed one, so the HTTP listener's answer counts it too.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from ..config import Limits, ListenerConfig
from ..observe import FloodGate, SelfMetrics, log
from ..wire import Batch, Decoder, Rejection, decoder_for, drop_long_lines
from ._descriptors import ConnectionBudget

LINE_TOO_LONG = "line too long"


class Router(Protocol):
    """Where the intake publishes its batches (the router, for the daemon)."""

    async def publish(self, batch: Batch) -> None: ...


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
        batch = Batch(origins=[(0, self.name)])  # so a sink that drops an event can say where from
        if too_long is None:
            lines, long_lines = drop_long_lines(lines, self.limits.max_line_bytes)
            batch.rejections.extend(Rejection(LINE_TOO_LONG, line[: Rejection.MAX_SAMPLE]) for line in long_lines)
            too_long = 0
        try:
            decoder.decode(lines, time.time_ns() // 1_000_000, batch)
        except Exception:  # a decoder bug must cost this read, not the daemon
            log.exception("decoder failed", extra={"listener": self.name, "format": decoder.format})
            self.refuse(decoder.format, "decoder error", len(lines), sample=b"")
            too_long += sum(rejection.reason == LINE_TOO_LONG for rejection in batch.rejections)
            if too_long:
                self.refuse(decoder.format, LINE_TOO_LONG, too_long, sample=b"")
            return Batch()
        received_bytes, received_messages, decoded = self._counters_for(decoder.format)
        received_bytes.inc(size)
        if messages:
            received_messages.inc(messages)
        if batch.events:
            decoded.inc(len(batch.events))
        if too_long:
            self.refuse(decoder.format, LINE_TOO_LONG, too_long, sample=b"")
        for rejection in batch.rejections:
            self.refuse(decoder.format, rejection.reason, 1, sample=rejection.line)
        return batch

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
        await self.router.publish(self.decode(lines, size=size, messages=messages, too_long=too_long))
