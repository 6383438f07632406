"""Fan-out, and the sinks and aggregations behind it.

Listeners publish batches to the :class:`Router`, which puts each into the queue of every
sink whose input is the raw events and whose include/exclude accepts its events, and
hands it to the aggregation stage (collector.aggregate), whose flushes come back through
:meth:`Router.deliver` to the queues of the sinks whose input is that aggregation. The
router also owns the sinks: it makes each from its configuration, opens it and runs it
(a :class:`~._runner.SinkRunner` in the router's own nursery), and replaces or stops it
when the configuration changes. Routes are replaced whole, never edited in place, so a
publish in progress sees one consistent set; a sink being replaced gets a fresh queue at
once, and starts writing it once its predecessor has written what it held, so the two
never share a spool. At a stop the aggregations flush their partial intervals first, so
the sinks drain them with the rest.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from ..aggregate._stage import AggregationStage
from ..config import RAW, Config, SinkConfig
from ..observe import SelfMetrics, SinkStats, log
from ..sinks import SINK_TYPES, SinkType
from ..wire import Batch, Event
from ._queue import QueueClosed, SinkQueue
from ._runner import SinkRunner

if TYPE_CHECKING:
    from ..aggregate._statsd_scan import StatsdScan


@dataclass(frozen=True)
class Route:
    config: SinkConfig
    queue: SinkQueue
    #: The sink writes from the events' lines (Sink.takes_lines): events may reach it undecoded.
    lines: bool = False
    #: It reads the listener's scan of those lines too (Sink.takes_scans).
    scans: bool = False


class Router:
    """Listeners publish here; sinks and aggregations are started, replaced and stopped here.

    ``sink_types`` says which class each sink type is. The sinks' tasks and the
    aggregations' flush tasks run inside :meth:`run`; the aggregations' flushes align
    to ``clock``, the wall clock (seconds since the epoch).
    """

    def __init__(
        self,
        metrics: SelfMetrics | None = None,
        *,
        sink_types: Mapping[str, SinkType] = SINK_TYPES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.metrics = metrics or SelfMetrics()
        self.sink_types = sink_types
        #: Where sinks keep what must outlive the process: the configuration's state_dir.
        self.state_dir = Path(Config.state_dir)
        #: The sinks that take the raw events.
        self.routes: tuple[Route, ...] = ()
        #: The sinks that take an aggregation's summaries, by the aggregation's name.
        self.summary_routes: Mapping[str, tuple[Route, ...]] = {}
        self.runners: dict[str, SinkRunner] = {}
        self.stage = AggregationStage(self.metrics, self.deliver, clock=clock)
        self._nursery: trio.Nursery | None = None

    # -- fan-out -----------------------------------------------------------------------

    async def publish(self, batch: Batch) -> None:
        if not len(batch):
            return
        self.stage.add(batch)  # at once, before any await: the aggregations see events in order
        await self._put(self.routes, batch)

    def aggregates_alone(self) -> bool:
        """True when aggregations alone take the events: no sink takes them raw, so a
        statsd listener may hand its lines straight to the aggregations (see
        collector.listeners' Intake)."""
        return not self.routes and bool(self.stage.aggregations)

    def takes_lines(self) -> bool:
        """True when every consumer of the raw events writes from their lines: sinks
        alone (no aggregation, which adds dicts), each one whose ``takes_lines`` says so
        and that has no include/exclude.
        A numbat listener then lets lines of the usual shape travel undecoded (see
        collector.listeners' Intake); any other consumer would decode them all anyway."""
        return bool(self.routes) and not self.stage.aggregations and all(route.lines for route in self.routes)

    def takes_scans(self) -> bool:
        """True when a sink of the raw events reads the listener's scan of their lines:
        only then does a numbat listener keep the scan with the batch."""
        return any(route.scans for route in self.routes)

    async def publish_scanned(self, scan: StatsdScan, batch: Batch, everything: Callable[[], list[Event]]) -> None:
        """A payload of statsd lines a listener scanned (see :meth:`aggregates_alone`): the
        lines its scan took, and ``batch``, the events of the others, to the aggregations
        (``everything``, the payload's events in order, for one that needs them so);
        ``batch`` to any sink that takes raw events now (the configuration may have changed)."""
        self.stage.add_scan(scan, batch, everything)
        await self._put(self.routes, batch)

    async def deliver(self, aggregation: str, summaries: Batch) -> None:
        """An aggregation's flush, to the sinks that take it."""
        await self._put(self.summary_routes.get(aggregation, ()), summaries)

    @staticmethod
    async def _put(routes: tuple[Route, ...], batch: Batch) -> None:
        if not len(batch):
            return
        for route in routes:
            selected = batch.select(route.config.accepts) if route.config.filters else batch
            with contextlib.suppress(QueueClosed):  # a sink being replaced: its successor is in the next routes
                await route.queue.put(selected)

    def _route(self, replacing: Mapping[str, Route] | None = None) -> None:
        """Route to every running sink (``replacing`` some by the routes given), each by its input."""
        routes = {
            # a sink's include/exclude reads every event's name: its events are decoded anyway
            name: Route(
                runner.config,
                runner.queue,
                lines=runner.sink.takes_lines and not runner.config.filters,
                scans=runner.sink.takes_scans and not runner.config.filters,
            )
            for name, runner in self.runners.items()
        }
        every = (routes | dict(replacing or {})).values()
        by_input: dict[str, tuple[Route, ...]] = {}
        for route in every:
            by_input[route.config.input] = (*by_input.get(route.config.input, ()), route)
        self.routes = tuple(route for route in every if route.config.raw)
        self.summary_routes = {name: found for name, found in by_input.items() if name != RAW}

    # -- the sinks -----------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hold the sinks' and aggregations' tasks: report started, then run until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self.stage.run)
            task_status.started()
            await trio.sleep_forever()

    async def start(self, config: Config) -> None:
        """Start every sink of ``config`` and route to them, then the aggregations; the
        first sink that cannot start raises."""
        self.state_dir = Path(config.state_dir)
        for sink in config.sinks:
            self.runners[sink.name] = await self._start(sink)
        self._route()
        self.stage.start(config.aggregations)

    async def reconfigure(self, config: Config, deadline: float) -> list[str]:
        """Start new sinks, stop removed ones, and restart changed ones on a fresh queue that
        receives their events from now on; a sink whose new settings cannot start goes back
        to its old ones. ``deadline``: seconds a stopping sink has to write what it holds
        (the old configuration's). The failures, as "sink NAME".

        The aggregations go first: one whose options changed, or that is gone, flushes
        what it holds to the sinks that took it, before those are replaced."""
        await self.stage.reconfigure(config.aggregations)
        self.state_dir = Path(config.state_dir)
        wanted = {sink.name: sink for sink in config.sinks}
        nursery = self._running()
        for name in [name for name in self.runners if name not in wanted]:
            nursery.start_soon(self.runners.pop(name).stop, deadline)
        failed = []
        for name, sink in wanted.items():
            current = self.runners.get(name)
            if current is not None and current.config == sink:
                continue
            queue = self._queue_for(sink)
            if current is not None:
                # Events go to the new queue at once, while the old sink writes out its own:
                # the two never hold one spool at the same time.
                self._route(replacing={name: Route(sink, queue)})
                await current.stop(deadline)
            try:
                self.runners[name] = await self._start(sink, queue)
            except Exception as exc:
                log.error("sink did not start", extra={"sink": name, "error": f"{type(exc).__name__}: {exc}"})
                failed.append(f"sink {name}")
                if current is not None:
                    await self._restore(current.config, queue)
        self._route()
        return failed

    async def stop(self, deadline: float) -> None:
        """Flush the aggregations' partial intervals to their sinks, route nothing more,
        and let every sink write what it holds; all within ``deadline``."""
        until = trio.current_time() + deadline
        with trio.move_on_at(until):
            await self.stage.stop()
        self.routes, self.summary_routes = (), {}
        with trio.move_on_at(until):
            async with trio.open_nursery() as nursery:
                for runner in self.runners.values():
                    nursery.start_soon(runner.stop, max(0.0, until - trio.current_time()))

    def summary(self) -> dict[str, dict[str, Any]]:
        """What each sink did, for the log line at the stop."""
        return {name: runner.summary() for name, runner in self.runners.items()}

    async def _restore(self, config: SinkConfig, queue: SinkQueue) -> None:
        try:
            self.runners[config.name] = await self._start(config, queue)
        except Exception as exc:
            del self.runners[config.name]
            log.error("sink lost: its old settings fail too", extra={"sink": config.name, "error": repr(exc)})
        else:
            log.warning("sink kept its old settings", extra={"sink": config.name})

    def _queue_for(self, config: SinkConfig) -> SinkQueue:
        stats = SinkStats(self.metrics, config.name, config.type)
        return SinkQueue(config.queue_size, config.overflow, on_drop=stats.dropped_overflow)

    async def _start(self, config: SinkConfig, queue: SinkQueue | None = None) -> SinkRunner:
        """Make the sink, open it, and run it on ``queue`` (a new one by default)."""
        stats = SinkStats(self.metrics, config.name, config.type)
        sink = self.sink_types[config.type].sink(config, stats, self.state_dir)
        runner = await SinkRunner.open(sink, queue or self._queue_for(config), self.metrics)
        self._running().start_soon(runner.run)
        return runner

    def _running(self) -> trio.Nursery:
        if self._nursery is None:
            raise RuntimeError("Router.run() holds the sinks' tasks: start it first")
        return self._nursery
