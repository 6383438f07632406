"""Fan-out, and the sinks behind it.

Listeners publish batches to the :class:`Router`, which puts each into the queue of every
sink whose include/exclude accepts its events. The router also owns the sinks: it makes
each from its configuration, opens it and runs it (a :class:`~._runner.SinkRunner` in the
router's own nursery), and replaces or stops it when the configuration changes. Routes
are replaced whole, never edited in place, so a publish in progress sees one consistent
set; a sink being replaced gets a fresh queue at once, and starts writing it once its
predecessor has written what it held, so the two never share a spool.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from ..config import Config, SinkConfig
from ..observe import SelfMetrics, SinkStats, log
from ..sinks import SINK_TYPES, SinkType
from ..wire import Batch
from ._queue import QueueClosed, SinkQueue
from ._runner import SinkRunner


@dataclass(frozen=True)
class Route:
    config: SinkConfig
    queue: SinkQueue


class Router:
    """Listeners publish here; sinks are started, replaced and stopped here.

    ``sink_types`` says which class each sink type is. The sinks' tasks run inside :meth:`run`.
    """

    def __init__(self, metrics: SelfMetrics | None = None, *, sink_types: Mapping[str, SinkType] = SINK_TYPES) -> None:
        self.metrics = metrics or SelfMetrics()
        self.sink_types = sink_types
        #: Where sinks keep what must outlive the process: the configuration's state_dir.
        self.state_dir = Path(Config.state_dir)
        self.routes: tuple[Route, ...] = ()
        self.runners: dict[str, SinkRunner] = {}
        self._nursery: trio.Nursery | None = None

    # -- fan-out -----------------------------------------------------------------------

    async def publish(self, batch: Batch) -> None:
        if not batch.events:
            return
        for route in self.routes:
            selected = batch.select(route.config.accepts) if route.config.filters else batch
            with contextlib.suppress(QueueClosed):  # a sink being replaced: its successor is in the next routes
                await route.queue.put(selected)

    def _route(self, replacing: Mapping[str, Route] | None = None) -> None:
        """Route to every running sink (``replacing`` some by the routes given)."""
        routes = {name: Route(runner.config, runner.queue) for name, runner in self.runners.items()}
        self.routes = tuple((routes | dict(replacing or {})).values())

    # -- the sinks -----------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hold the sinks' tasks: report started, then run until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    async def start(self, config: Config) -> None:
        """Start every sink of ``config`` and route to them; the first that cannot start raises."""
        self.state_dir = Path(config.state_dir)
        for sink in config.sinks:
            self.runners[sink.name] = await self._start(sink)
        self._route()

    async def reconfigure(self, config: Config, deadline: float) -> list[str]:
        """Start new sinks, stop removed ones, and restart changed ones on a fresh queue that
        receives their events from now on; a sink whose new settings cannot start goes back
        to its old ones. ``deadline``: seconds a stopping sink has to write what it holds
        (the old configuration's). The failures, as "sink NAME"."""
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
        """Route nothing more, and let every sink write what it holds within ``deadline``."""
        self.routes = ()
        with trio.move_on_after(deadline):
            async with trio.open_nursery() as nursery:
                for runner in self.runners.values():
                    nursery.start_soon(runner.stop, deadline)

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
