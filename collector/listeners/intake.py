"""What every listener does with what it reads: decode, count, report, publish."""

from __future__ import annotations

import time
from typing import Any

from ..config import Limits, ListenerConfig
from ..decoders import DECODERS, Decoder, InfluxDecoder
from ..events import Batch
from ..logs import FloodGate, log
from ..router import Router
from ..selfmetrics import SelfMetrics


class Intake:
    def __init__(
        self, config: ListenerConfig, limits: Limits, router: Router, metrics: SelfMetrics, flood: FloodGate
    ) -> None:
        self.config = config
        self.limits = limits
        self.name = config.name
        self.decoder: Decoder = (
            InfluxDecoder(config.precision) if config.format == "influx" else DECODERS[config.format]()
        )
        self.router = router
        self.metrics = metrics
        self.flood = flood
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
        self, lines: list[bytes], *, size: int, messages: int = 1, too_long: int = 0, decoder: Decoder | None = None
    ) -> Batch:
        """Decode and count; the caller publishes (or answers an HTTP client first)."""
        decoder = decoder or self.decoder
        batch = Batch()
        try:
            decoder.decode(lines, time.time_ns() // 1_000_000, batch)
        except Exception:  # a decoder bug must cost this read, not the daemon
            log.exception("decoder failed", extra={"listener": self.name, "format": decoder.format})
            self.refuse(decoder.format, "decoder error", len(lines), sample=b"")
            return Batch()
        received_bytes, received_messages, decoded = self._counters_for(decoder.format)
        received_bytes.inc(size)
        if messages:
            received_messages.inc(messages)
        if batch.events:
            decoded.inc(len(batch.events))
        if too_long:
            self.refuse(decoder.format, "line too long", too_long, sample=b"")
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

    async def take(self, lines: list[bytes], *, size: int, messages: int = 1, too_long: int = 0) -> None:
        await self.router.publish(self.decode(lines, size=size, messages=messages, too_long=too_long))
