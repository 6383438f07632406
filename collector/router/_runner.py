"""One sink's life: its queue, the one task that writes what the queue holds, its drain at
a stop, and its share of the self-metrics. A slow or dead sink fills its own queue and
stalls nobody.

A batch a sink cannot encode is written in halves until the events it cannot carry are
found: those alone are dropped, counted and logged with the listener they came from,
and the rest of the batch is written. This holds for every sink because a sink encodes
a whole batch before any I/O (see :class:`~collector.sinks.Sink`), so a half is
never written twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import trio

from ..config import SinkConfig
from ..observe import SelfMetrics, log
from ..sinks import Sink
from ..wire import Batch
from ._queue import SinkQueue

#: What a sink raises for content it cannot encode, as opposed to a destination failing.
CONTENT_ERRORS = (TypeError, ValueError, ArithmeticError)
_SAMPLE = 200


@dataclass(kw_only=True)
class SinkRunner:
    """One sink's queue and task. ``run`` writes until the queue is closed and empty;
    ``stop`` closes it and gives the sink a deadline to finish."""

    sink: Sink[Any]
    queue: SinkQueue
    metrics: SelfMetrics
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    done: trio.Event = field(default_factory=trio.Event)

    @classmethod
    async def open(cls, sink: Sink[Any], queue: SinkQueue, metrics: SelfMetrics) -> SinkRunner:
        """Open ``sink`` (closing it again if that fails) to write what ``queue`` holds."""
        config = sink.config
        metrics.queue_depth.labels(config.name, config.type).set_function(lambda: len(queue))
        try:
            await sink.open()
        except BaseException:
            with trio.CancelScope(shield=True):
                await sink.close()
            raise
        return cls(sink=sink, queue=queue, metrics=metrics)

    @property
    def config(self) -> SinkConfig:
        return self.sink.config

    async def run(self) -> None:
        """The sink's task: write batches until its queue is closed and empty, with the
        sink's own background work beside it; then save or count what is left."""
        sink, queue = self.sink, self.queue
        in_hand: list[Batch] = []
        try:
            with self.scope:
                async with trio.open_nursery() as nursery:
                    await nursery.start(sink.maintain)
                    while (batch := await queue.take(sink.batch_events, sink.linger)) is not None:
                        in_hand[:] = [batch]
                        await self._write(batch)
                        in_hand.clear()
                    await sink.flush()
                    nursery.cancel_scope.cancel()
        finally:
            left = [*in_hand, *queue.take_all()]
            lost = sum(self._salvage(batch) for batch in left)
            if lost:
                sink.stats.dropped_stopped(lost)
                log.warning("sink stopped with events unwritten", extra={"sink": sink.name, "events": lost})
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await sink.close()
            self.done.set()

    async def stop(self, deadline: float) -> None:
        self.queue.close()
        with trio.move_on_after(deadline):
            await self.done.wait()
        self.scope.cancel()
        await self.done.wait()

    async def _write(self, batch: Batch) -> None:
        """Write ``batch``; on content the sink cannot encode, its halves, down to the event."""
        sink, labels = self.sink, (self.config.name, self.config.type)
        started = time.perf_counter()
        try:
            await sink.write(batch)
        except CONTENT_ERRORS as exc:
            if len(batch) > 1:
                middle = len(batch) // 2
                await self._write(batch.slice(0, middle))
                await self._write(batch.slice(middle))
                return
            sink.stats.skipped("unwritable")
            log.warning(
                "event dropped: the sink cannot write it",
                extra={"sink": sink.name, "listener": batch.origin_of(0), "error": str(exc), "event": _sample(batch)},
            )
        except Exception as exc:
            self.metrics.errors.labels(*labels).inc()
            self.metrics.dropped.labels(*labels, "error").inc(len(batch))
            log.error(
                "sink write failed; its batch is lost",
                extra={
                    "sink": sink.name,
                    "events": len(batch),
                    "listeners": batch.listeners(),
                    "error": f"{type(exc).__name__}: {exc}",
                    "first_event": _sample(batch),
                },
            )
        else:
            self.metrics.written.labels(*labels).inc(len(batch))
            self.metrics.write_seconds.labels(*labels).observe(time.perf_counter() - started)

    def _salvage(self, batch: Batch) -> int:
        """Have the sink keep ``batch`` (in its spool) at a stop; how many events it could not."""
        try:
            return 0 if self.sink.salvage(batch) else len(batch)
        except CONTENT_ERRORS:
            if len(batch) == 1:
                self.sink.stats.skipped("unwritable")
                return 0
            middle = len(batch) // 2
            return self._salvage(batch.slice(0, middle)) + self._salvage(batch.slice(middle))

    def summary(self) -> dict[str, Any]:
        """What this sink did, for the log line at the stop."""
        return {**self.metrics.sink_summary(self.config.name), **self.sink.pending()}


def _sample(batch: Batch) -> str:
    """The first event of ``batch``, as it arrived where known, shortened for a log."""
    line = batch.raw[0] if batch.raw else None
    text = line.decode("utf-8", "replace") if line is not None else repr(batch.event(0)) if len(batch) else ""
    return text[:_SAMPLE]
