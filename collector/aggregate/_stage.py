"""The aggregation stage: the trio shell around the sans-I/O :class:`Aggregator`, one per
``[[aggregations]]`` table.

The router hands every batch it publishes to :meth:`AggregationStage.add`, which feeds
each aggregation's Aggregator at once, in the publisher's own step (no queue, no task
switch: adding is a dict update). Each aggregation has one task that sleeps until the
next wall-clock multiple of its interval, takes the interval's summaries from the
Aggregator (stamped with that boundary, so every flush of every numbatd lands on the
same instants) and hands them to ``deliver``: the router puts them in the queues of the
sinks whose input is that aggregation, as it puts raw events in the others'.

What was counted is never dropped by the stage itself: a reload that keeps an
aggregation's options keeps its Aggregator (and what it holds); one that changes them
or removes the aggregation flushes the old Aggregator first; :meth:`AggregationStage.stop`
(SIGTERM) flushes every partial interval before the sinks drain. A lock per aggregation
orders the flushes, so a final one never overtakes the regular flush it interrupts.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping

import trio

from ..config import NEVER, AggregationConfig
from ..observe import AggregationStats, FloodGate, SelfMetrics, log
from ..wire import Batch, Event
from . import AggregationOptions, Aggregator, Rule

#: Hands an aggregation's summaries, by its name, to the sinks that take it.
Deliver = Callable[[str, Batch], Awaitable[None]]
#: What the Aggregator may raise for an event it cannot take (a bug there, or a value
#: nobody foresaw): the event is counted and logged, the batch goes on.
_CONTENT_ERRORS = (TypeError, ValueError, ArithmeticError)
#: The longest the flush task sleeps before it looks at the wall clock again (a clock
#: stepped by NTP moves the next boundary).
_LOOK_AGAIN = 1.0


def options_of(config: AggregationConfig) -> AggregationOptions:
    """The core's options from the TOML table's (``delete_idle_after = "never"`` is None)."""
    idle = config.delete_idle_after
    return AggregationOptions(
        name=config.name,
        interval=config.interval,
        percentiles=config.percentiles,
        histogram_bins=tuple(map(float, config.histogram_bins)),  # "inf" is math.inf once checked
        max_series=config.max_series,
        max_samples=config.max_samples,
        delete_idle_after=None if idle == NEVER else int(idle),
        gauge_ttl=config.gauge_ttl,
        rules=tuple(Rule(rule.match, rule.kind, rule.key_fields) for rule in config.rules),
    )


def next_boundary_ms(now_ms: int, interval_ms: int) -> int:
    """The first wall-clock multiple of ``interval_ms`` after ``now_ms``."""
    return (now_ms // interval_ms + 1) * interval_ms


class Aggregation:
    """One aggregation at work: its Aggregator, its flush schedule and its self-metrics."""

    def __init__(self, config: AggregationConfig, stats: AggregationStats, flood: FloodGate) -> None:
        self.config = config
        self.name = config.name
        self.aggregator = Aggregator(options_of(config))
        self.stats = stats
        self.flood = flood
        stats.watch_series(lambda: self.aggregator.series)
        self.lock = trio.Lock()  #: held while a flush is made and delivered
        self.last_flush_ms: int | None = None
        self.closing = False
        self.sleeping = trio.CancelScope()  #: the flush task's sleep, cancelled by a stop
        self.done = trio.Event()  #: the flush task has ended
        self._dropped_series = self._dropped_total()

    def add(self, events: Iterable[Event]) -> None:
        """Aggregate what the Aggregator takes; the other events pass it by."""
        add = self.aggregator.add
        aggregated = 0
        remaining = iter(events)
        while True:
            try:
                for event in remaining:  # resumes after an event that raised
                    aggregated += add(event)
                break
            except _CONTENT_ERRORS as exc:
                self.stats.refused()
                self.flood.warning(
                    "aggregation refused",
                    "an aggregation could not take an event; raw sinks still get it",
                    aggregation=self.name,
                    error=f"{type(exc).__name__}: {exc}",
                )
        if aggregated:
            self.stats.aggregated(aggregated)

    def next_flush_ms(self, now_ms: int) -> int:
        """When the next flush is due: the next boundary, and never one flushed already."""
        interval = self.config.interval_ms
        due = next_boundary_ms(now_ms, interval)
        if self.last_flush_ms is not None:
            due = max(due, self.last_flush_ms + interval)
        return due

    def flush(self, at_ms: int, lag: float = 0.0) -> Batch:
        """The summaries of what was aggregated until now, stamped ``at_ms``, as a batch."""
        started = time.perf_counter()
        summaries = self.aggregator.flush(at_ms)
        self.stats.flush_seconds(time.perf_counter() - started)
        self.stats.flush_lag(lag)
        self.stats.last_flush(at_ms / 1000)
        self.last_flush_ms = at_ms
        self._count_dropped_series()
        batch = Batch(summaries, [None] * len(summaries), origins=[(0, f"aggregation {self.name}")])
        if summaries:
            self.stats.summaries(len(summaries))
        return batch

    def _dropped_total(self) -> int:
        return int(sum(self.aggregator.stats.dropped_series.values()))

    def _count_dropped_series(self) -> None:
        """What the Aggregator dropped since the last flush, counted and its names logged."""
        total = self._dropped_total()
        if total > self._dropped_series:
            self.stats.dropped_series(total - self._dropped_series)
            log.warning(
                "aggregation full: events of new series dropped",
                extra={
                    "aggregation": self.name,
                    "max_series": self.config.max_series,
                    "dropped": total - self._dropped_series,
                    "names": sorted(self.aggregator.stats.dropped_series)[:20],
                },
            )
        self._dropped_series = total


class AggregationStage:
    """Every aggregation of the configuration; :meth:`run` holds their flush tasks.

    ``clock`` is the wall clock in seconds since the epoch (the tests hand one that
    follows trio's MockClock): flushes align to it, and trio's clock only sleeps.
    """

    def __init__(
        self,
        metrics: SelfMetrics,
        deliver: Deliver,
        *,
        clock: Callable[[], float] = time.time,
        flood: FloodGate | None = None,
    ) -> None:
        self.metrics = metrics
        self.deliver = deliver
        self.clock = clock
        self.flood = flood or FloodGate(5.0)
        self.aggregations: dict[str, Aggregation] = {}
        self._feeding: tuple[Aggregation, ...] = ()  # what add() feeds: replaced whole, never edited
        self._nursery: trio.Nursery | None = None

    # -- events in -------------------------------------------------------------------

    def add(self, batch: Batch) -> None:
        """Every aggregation takes what it aggregates of ``batch``."""
        for aggregation in self._feeding:
            aggregation.add(batch.events)

    # -- life ------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hold the flush tasks: report started, then run until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    def start(self, configs: Iterable[AggregationConfig]) -> None:
        """Start an aggregation per table (the stage has none yet)."""
        self._apply({config.name: config for config in configs})

    async def reconfigure(self, configs: Iterable[AggregationConfig]) -> None:
        """Keep the aggregations whose options are the same (with what they hold), start
        the new ones, and flush the changed and removed ones before letting them go. The
        new set takes events at once, so none falls between the old and the new."""
        wanted = {config.name: config for config in configs}
        for old in self._apply(wanted):
            await self._close(old, forget=old.name not in wanted)

    async def stop(self) -> None:
        """Flush every partial interval to the sinks (SIGTERM: before they drain)."""
        old = list(self.aggregations.values())
        self._apply({})
        for aggregation in old:
            await self._close(aggregation, forget=False)

    def _apply(self, wanted: Mapping[str, AggregationConfig]) -> list[Aggregation]:
        """Make the running set what ``wanted`` says, at once; the aggregations let go."""
        running, let_go = {}, []
        for name, current in self.aggregations.items():
            if wanted.get(name) == current.config:
                running[name] = current
            else:
                let_go.append(current)
        for name, config in wanted.items():
            if name not in running:
                aggregation = Aggregation(config, AggregationStats(self.metrics, name), self.flood)
                self._running().start_soon(self._flush_task, aggregation)
                running[name] = aggregation
        self.aggregations = running
        self._feeding = tuple(running.values())
        return let_go

    async def _close(self, aggregation: Aggregation, *, forget: bool) -> None:
        """End ``aggregation``'s flush task and flush what it holds, stamped now."""
        aggregation.closing = True
        aggregation.sleeping.cancel()
        async with aggregation.lock:
            now_ms = int(self.clock() * 1000)
            last = aggregation.last_flush_ms
            at_ms = now_ms if last is None else max(now_ms, last + 1)  # never the stamp of a flush made
            await self.deliver(aggregation.name, aggregation.flush(at_ms))
        await aggregation.done.wait()
        if forget:
            aggregation.stats.forget()
        log.info("aggregation flushed and let go", extra={"aggregation": aggregation.name, "at_ms": at_ms})

    async def _flush_task(self, aggregation: Aggregation) -> None:
        """Flush at every wall-clock multiple of the interval until the aggregation closes."""
        try:
            while not aggregation.closing:
                due_ms = aggregation.next_flush_ms(int(self.clock() * 1000))
                with trio.CancelScope() as aggregation.sleeping:
                    while (wait := due_ms / 1000 - self.clock()) > 0:
                        await trio.sleep(min(wait, _LOOK_AGAIN))
                if aggregation.closing:
                    break
                async with aggregation.lock:
                    batch = aggregation.flush(due_ms, lag=max(0.0, self.clock() - due_ms / 1000))
                    await self.deliver(aggregation.name, batch)
        finally:
            aggregation.done.set()

    def _running(self) -> trio.Nursery:
        if self._nursery is None:
            raise RuntimeError("AggregationStage.run() holds the flush tasks: start it first")
        return self._nursery
