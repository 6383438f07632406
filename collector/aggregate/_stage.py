"""The aggregation stage: the trio shell around the sans-I/O :class:`Aggregator`, one per
``[[aggregations]]`` table.

The router hands every batch it publishes to :meth:`AggregationStage.add`, which feeds
each aggregation's Aggregator at once, in the publisher's own step (no queue, no task
switch: adding is a dict update). Each aggregation has one task that sleeps until the
next wall-clock multiple of its interval, takes the interval's summaries from the
Aggregator (stamped with that boundary, so every flush of every numbatd lands on the
same instants) and hands them to ``deliver``: the router puts them in the queues of the
sinks whose input is that aggregation, as it puts raw events in the others'.

What was counted is never dropped by the stage itself: a reload keeps each aggregation's
Aggregator (and what it holds) as long as its name stays; when its options changed it
first flushes the partial interval under the old ones, then takes the new ones (its
gauges are kept); a removed aggregation is flushed before it goes, and
:meth:`AggregationStage.stop` (SIGTERM) flushes every partial interval before the sinks
drain. A lock per aggregation orders the flushes, so one out of turn never overtakes
the regular flush it interrupts, and stamps only increase.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING

import trio

from ..config import NEVER, AggregationConfig
from ..observe import AggregationStats, FloodGate, SelfMetrics, log
from ..wire import Batch, Event
from . import AggregationOptions, Aggregator, AggregatorStats, Rule

if TYPE_CHECKING:
    from ._statsd_scan import StatsdScan

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

    def flushes(idle: int | str) -> int | None:
        return None if idle == NEVER else int(idle)

    return AggregationOptions(
        name=config.name,
        interval=config.interval,
        percentiles=config.percentiles,
        histogram_bins=tuple(map(float, config.histogram_bins)),  # "inf" is math.inf once checked
        max_series=config.max_series,
        max_samples=config.max_samples,
        max_set_members=config.max_set_members,
        delete_idle_after=flushes(config.delete_idle_after),
        delete_idle_after_by_kind=tuple(
            (kind, flushes(idle)) for kind, idle in sorted(config.delete_idle_after_by_kind.items())
        ),
        gauge_ttl=config.gauge_ttl,
        sample_rate_in_key=config.sample_rate_in_key,
        rules=tuple(Rule(rule.match, rule.kind, rule.key_fields) for rule in config.rules),
    )


def next_boundary_ms(now_ms: int, interval_ms: int) -> int:
    """The first wall-clock multiple of ``interval_ms`` after ``now_ms``."""
    return (now_ms // interval_ms + 1) * interval_ms


class Aggregation:
    """One aggregation at work: its Aggregator, its flush schedule and its self-metrics."""

    def __init__(self, config: AggregationConfig, stats: AggregationStats, flood: FloodGate, now_ms: int) -> None:
        self.config = config
        self.name = config.name
        self.aggregator = Aggregator(options_of(config))
        self.stats = stats
        self.flood = flood
        stats.watch_series(lambda: self.aggregator.series)
        self.lock = trio.Lock()  #: held while a flush is made and delivered
        self.last_flush_ms: int | None = None
        self.started_ms = now_ms  #: when the first interval began (numbatd's start, or the reload that added it)
        self.closing = False
        self.sleeping = trio.CancelScope()  #: the flush task's sleep: cancelled, it looks again
        self.done = trio.Event()  #: the flush task has ended
        self._counted = AggregatorStats()  # what of the Aggregator's own counts the metrics hold
        self._dropped_counted = 0  # the dropped events the metric holds (their names are logged at a flush)

    def add(self, events: Iterable[Event]) -> None:
        """Aggregate what the Aggregator takes; the other events pass it by."""
        add = self.aggregator.add
        remaining = iter(events)
        while True:
            try:
                for event in remaining:  # resumes after an event that raised
                    add(event)
                break
            except _CONTENT_ERRORS as exc:
                self.stats.refused()
                self.flood.warning(
                    "aggregation error",
                    "an aggregation could not take an event; raw sinks still get it",
                    aggregation=self.name,
                    error=f"{type(exc).__name__}: {exc}",
                )
        self._count()

    def add_scan(self, scan: StatsdScan, others: list[Event], everything: Callable[[], list[Event]]) -> None:
        """Aggregate the statsd lines a listener's scan took and the events of the payload's
        other lines (``others``); or, when the Aggregator cannot take them out of order
        (see :meth:`Aggregator.add_scan`), ``everything``: the payload's events in order."""
        try:
            taken = self.aggregator.add_scan(scan, others)
        except _CONTENT_ERRORS as exc:  # a bug: the lines are lost to this aggregation, and counted
            self.stats.refused(scan.taken)
            self.flood.warning(
                "aggregation error",
                "an aggregation could not take a scan of statsd lines",
                aggregation=self.name,
                error=f"{type(exc).__name__}: {exc}",
            )
            taken = True
        self.add(others if taken else everything())

    def reconfigure(self, config: AggregationConfig) -> None:
        """New options for what the Aggregator holds (its gauges, its idle series)."""
        self.config = config
        self.aggregator.reconfigure(options_of(config))
        self.sleeping.cancel()  # the interval may have changed: the flush task looks again

    def next_flush_ms(self, now_ms: int) -> int:
        """When the next flush is due: the next boundary after now and after the last flush."""
        last = self.last_flush_ms
        return next_boundary_ms(now_ms if last is None else max(now_ms, last), self.config.interval_ms)

    def flush(self, at_ms: int, lag: float = 0.0) -> Batch:
        """The summaries of what was aggregated until now, stamped ``at_ms``, as a batch.

        Rates are per second of what the interval covered: a whole interval mostly, but
        the first one began when the aggregation did, and one flushed out of turn (a
        reload, a stop) ends early, and the one after it began then."""
        began = self.started_ms if self.last_flush_ms is None else self.last_flush_ms
        started = time.perf_counter()
        summaries = self.aggregator.flush(at_ms, (at_ms - began) / 1000)
        self.stats.flush_seconds(time.perf_counter() - started)
        self.stats.flush_lag(lag)
        self.stats.last_flush(at_ms / 1000)
        self.last_flush_ms = at_ms
        self._count()
        self._report_dropped()
        if summaries:
            self.stats.summaries(len(summaries))
        return Batch(summaries, [None] * len(summaries), origins=[(0, f"aggregation {self.name}")])

    def _count(self) -> None:
        """Bring the self-metrics up to the Aggregator's own counts."""
        counts, counted = self.aggregator.stats, self._counted
        if counts.aggregated > counted.aggregated:
            self.stats.aggregated(counts.aggregated - counted.aggregated)
            counted.aggregated = counts.aggregated
        if counts.series_sketched > counted.series_sketched:
            self.stats.sketched_timers(counts.series_sketched - counted.series_sketched)
            counted.series_sketched = counts.series_sketched
        if counts.sets_estimated > counted.sets_estimated:
            self.stats.estimated_sets(counts.sets_estimated - counted.sets_estimated)
            counted.sets_estimated = counts.sets_estimated
        refused = counts.not_aggregated.total()
        if refused > counted.not_aggregated.total():
            for reason, count in (counts.not_aggregated - counted.not_aggregated).items():
                self.stats.refused(count)
                self.flood.warning(
                    "aggregation refused",
                    "events an aggregation's rule matched could not be aggregated; raw sinks still get them",
                    aggregation=self.name,
                    reason=reason,
                    events=count,
                )
            counted.not_aggregated = counts.not_aggregated.copy()
        if counts.dropped_total > self._dropped_counted:
            self.stats.dropped_series(counts.dropped_total - self._dropped_counted)
            self._dropped_counted = counts.dropped_total

    def _report_dropped(self) -> None:
        """The names of new series dropped since the last flush, logged (they are counted as they come)."""
        counts, counted = self.aggregator.stats, self._counted
        if counts.dropped_total > counted.dropped_total:
            new = counts.dropped - counted.dropped
            log.warning(
                "aggregation full: events of new series dropped",
                extra={
                    "aggregation": self.name,
                    "max_series": self.config.max_series,
                    "dropped": new.total(),
                    "names": dict(new.most_common(20)),
                },
            )
            counted.dropped = counts.dropped.copy()


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

    def add_scan(self, scan: StatsdScan, others: Batch, everything: Callable[[], list[Event]]) -> None:
        """Every aggregation takes the statsd lines a listener's scan took, and ``others``,
        the events of the payload's other lines (``everything``: all its events, in order,
        decoded once for whichever aggregation asks)."""
        decoded: list[list[Event]] = []

        def once() -> list[Event]:
            if not decoded:
                decoded.append(everything())
            return decoded[0]

        for aggregation in self._feeding:
            aggregation.add_scan(scan, others.events, once)

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
        """Keep the aggregations whose options are the same, with what they hold; start the
        new ones; flush a changed one before it takes its new options (its gauges and idle
        series stay), and a removed one before it goes. The new set takes events at once,
        so none falls between the old and the new."""
        wanted = {config.name: config for config in configs}
        changed = [(old, wanted[old.name]) for old in self.aggregations.values() if old.name in wanted]
        for removed in self._apply(wanted):
            await self._close(removed, forget=True)
        for aggregation, config in changed:
            if aggregation.config != config:
                async with aggregation.lock:
                    batch = aggregation.flush(self._stamp(aggregation))
                    aggregation.reconfigure(config)
                    await self.deliver(aggregation.name, batch)

    async def stop(self) -> None:
        """Flush every partial interval to the sinks (SIGTERM: before they drain)."""
        old = list(self.aggregations.values())
        self._apply({})
        for aggregation in old:
            await self._close(aggregation, forget=False)

    def _apply(self, wanted: Mapping[str, AggregationConfig]) -> list[Aggregation]:
        """Make the running set the names ``wanted`` says, at once (an aggregation whose
        options changed is kept); the aggregations let go."""
        running = {name: current for name, current in self.aggregations.items() if name in wanted}
        let_go = [current for name, current in self.aggregations.items() if name not in wanted]
        for name, config in wanted.items():
            if name not in running:
                stats = AggregationStats(self.metrics, name)
                aggregation = Aggregation(config, stats, self.flood, int(self.clock() * 1000))
                self._running().start_soon(self._flush_task, aggregation)
                running[name] = aggregation
        self.aggregations = running
        self._feeding = tuple(running.values())
        return let_go

    def _stamp(self, aggregation: Aggregation) -> int:
        """A flush out of turn is stamped now, and never with the stamp of a flush made."""
        now_ms = int(self.clock() * 1000)
        last = aggregation.last_flush_ms
        return now_ms if last is None else max(now_ms, last + 1)

    async def _close(self, aggregation: Aggregation, *, forget: bool) -> None:
        """End ``aggregation``'s flush task and flush what it holds, stamped now."""
        aggregation.closing = True
        aggregation.sleeping.cancel()
        async with aggregation.lock:
            at_ms = self._stamp(aggregation)
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
                if aggregation.sleeping.cancelled_caught:
                    continue  # closing, or new options: look again
                async with aggregation.lock:
                    last = aggregation.last_flush_ms
                    if aggregation.closing or (last is not None and last >= due_ms):
                        continue  # flushed out of turn (a reload, a stop) while this one waited
                    batch = aggregation.flush(due_ms, lag=max(0.0, self.clock() - due_ms / 1000))
                    await self.deliver(aggregation.name, batch)
        finally:
            aggregation.done.set()

    def _running(self) -> trio.Nursery:
        if self._nursery is None:
            raise RuntimeError("AggregationStage.run() holds the flush tasks: start it first")
        return self._nursery
