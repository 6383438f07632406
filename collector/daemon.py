"""numbatd's life: start sinks and listeners, reload on SIGHUP, drain on SIGTERM.

One task per listener and per sink, each in a cancel scope of its own, so a reload
can replace one without touching the others, and shutdown can stop intake first and
then give the sinks a deadline to write what they hold. At start the descriptor limit
is raised and the listeners' shared connection budget sized from it (descriptors.py).
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import trio
from prometheus_client import make_asgi_app

from .asgi import Receive, Scope, Send, lifespan, respond, respond_json, serve_http
from .config import Config, Limits, ListenerConfig, SinkConfig, load_config
from .descriptors import ConnectionBudget, budget_for, raise_fd_limit
from .events import Batch
from .listeners import CONNECTION_SCHEMES, Intake, serve_listener
from .logs import FloodGate, log
from .queue import SinkQueue
from .router import Route, Router
from .schema import ConfigError
from .selfmetrics import SelfMetrics, SinkStats
from .sinks import SINKS, Sink


@dataclass(kw_only=True)
class Running:
    """A started listener or sink: stop it by closing its queue or cancelling its scope."""

    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    done: trio.Event = field(default_factory=trio.Event)


@dataclass(kw_only=True)
class RunningListener(Running):
    config: ListenerConfig
    limits: Limits


@dataclass(kw_only=True)
class RunningSink(Running):
    config: SinkConfig
    queue: SinkQueue


class Daemon:
    def __init__(self, config: Config, config_path: Path | None = None) -> None:
        self.config = config
        self.config_path = config_path
        self.metrics = SelfMetrics()
        self.flood = FloodGate(config.log.flood_rate)
        self.router = Router()
        self.listeners: dict[str, RunningListener] = {}
        self.sinks: dict[str, RunningSink] = {}
        self.ready = False
        self.fd_limit = 0
        self.budget = ConnectionBudget(0)  #: sized at start, when the limit is known
        self._nursery: trio.Nursery | None = None
        self._metrics_app = make_asgi_app(self.metrics.registry)

    # -- running -------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with trio.open_signal_receiver(signal.SIGHUP, signal.SIGTERM, signal.SIGINT) as signals:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self._raise_fd_limit()
                listen = self.config.self_metrics.listen
                if listen:
                    host, _, port = listen.rpartition(":")
                    await nursery.start(serve_http, self.health_app, host.strip("[]"), int(port))
                for sink_config in self.config.sinks:
                    self.sinks[sink_config.name] = await self._start_sink(sink_config)
                self._route()
                for listener_config in self.config.listeners:
                    self.listeners[listener_config.name] = await self._start_listener(listener_config)
                self.ready = True
                log.info(
                    "numbatd started",
                    extra={
                        "listeners": [f"{c.url} ({c.format})" for c in self.config.listeners],
                        "sinks": [c.name for c in self.config.sinks],
                        "self_metrics": listen or None,
                    },
                )
                task_status.started()
                async for signum in signals:
                    if signum == signal.SIGHUP:
                        await self.reload()
                    else:
                        log.info("numbatd stopping", extra={"signal": signal.Signals(signum).name})
                        break
                await self.shutdown()
                nursery.cancel_scope.cancel()
        log.info(
            "numbatd stopped",
            extra={
                "decoded": int(self.metrics.total(self.metrics.decoded)),
                "written": int(self.metrics.total(self.metrics.written)),
            },
        )

    async def shutdown(self) -> None:
        """Stop intake, then let every sink write what it holds, within the deadline."""
        self.ready = False
        for listener in self.listeners.values():
            listener.scope.cancel()
        for listener in self.listeners.values():
            await listener.done.wait()
        self.router.replace(())
        with trio.move_on_after(self.config.shutdown_timeout):
            async with trio.open_nursery() as nursery:
                for sink in self.sinks.values():
                    nursery.start_soon(self._stop_sink, sink, self.config.shutdown_timeout)

    # -- reload ----------------------------------------------------------------------

    async def reload(self) -> None:
        if self.config_path is None:
            log.warning("SIGHUP ignored: numbatd runs on its embedded defaults, there is no file to reload")
            return
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            self.metrics.reloads.labels("refused").inc()
            log.error("reload refused; the running configuration stays", extra={"error": str(exc)})
            return
        if new.self_metrics != self.config.self_metrics or new.log != self.config.log:
            log.warning("self_metrics and log settings take effect at the next restart")
        old, self.config = self.config, new
        self._size_budget()
        await self._reload_sinks(old, new)
        await self._reload_listeners(new)
        self.metrics.reloads.labels("applied").inc()
        log.info(
            "configuration reloaded",
            extra={"listeners": sorted(self.listeners), "sinks": sorted(self.sinks)},
        )

    async def _reload_sinks(self, old: Config, new: Config) -> None:
        wanted = {c.name: c for c in new.sinks}
        retired = [s for name, s in self.sinks.items() if name not in wanted or wanted[name] != s.config]
        started: dict[str, RunningSink] = {}
        for name, sink_config in wanted.items():
            current = self.sinks.get(name)
            if current is not None and current.config == sink_config:
                started[name] = current
                continue
            try:
                started[name] = await self._start_sink(sink_config)
            except Exception as exc:
                log.error("sink did not start", extra={"sink": name, "error": repr(exc)})
        self.sinks = started
        self._route()
        assert self._nursery is not None
        for sink in retired:
            self._nursery.start_soon(self._stop_sink, sink, old.shutdown_timeout)

    async def _reload_listeners(self, new: Config) -> None:
        wanted = {c.name: (c, new.limits_for(c)) for c in new.listeners}
        for name, listener in list(self.listeners.items()):
            if name not in wanted or wanted[name] != (listener.config, listener.limits):
                listener.scope.cancel()
                await listener.done.wait()  # its port must be free before a successor binds it
                del self.listeners[name]
        for name, (listener_config, _) in wanted.items():
            if name not in self.listeners:
                try:
                    self.listeners[name] = await self._start_listener(listener_config)
                except OSError as exc:
                    log.error("listener did not start", extra={"listener": name, "error": str(exc)})

    # -- file descriptors ----------------------------------------------------------------

    def _raise_fd_limit(self) -> None:
        before, self.fd_limit = raise_fd_limit()
        if self.fd_limit != before:
            log.info("file descriptor limit raised to the hard limit", extra={"from": before, "to": self.fd_limit})
        self._size_budget()

    def _size_budget(self) -> None:
        """The connections every listener together may hold; say so when the listeners'
        max_connections add up to more, since connections past it will be refused."""
        reserve = self.config.limits.fd_reserve
        self.budget.capacity = budget_for(self.fd_limit, reserve)
        self.metrics.connection_budget.set(self.budget.capacity)
        wanted = sum(
            self.config.limits_for(c).max_connections
            for c in self.config.listeners
            if c.address.scheme in CONNECTION_SCHEMES
        )
        if wanted > self.budget.capacity:
            log.warning(
                "the listeners' max_connections do not fit within the file descriptor limit minus fd_reserve; "
                "connections past that budget are refused (raise LimitNOFILE or lower max_connections)",
                extra={
                    "fd_limit": self.fd_limit,
                    "fd_reserve": reserve,
                    "connection_budget": self.budget.capacity,
                    "max_connections": wanted,
                },
            )

    # -- listeners and sinks -------------------------------------------------------------

    def _route(self) -> None:
        self.router.replace([Route(s.config, s.queue) for s in self.sinks.values()])

    async def _start_listener(self, config: ListenerConfig) -> RunningListener:
        limits = self.config.limits_for(config)
        running = RunningListener(config=config, limits=limits)
        intake = Intake(config, limits, self.router, self.metrics, self.flood, budget=self.budget)

        async def serve(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            try:
                with running.scope:
                    await serve_listener(intake, task_status=task_status)
            finally:
                running.done.set()

        assert self._nursery is not None
        try:
            await self._nursery.start(serve)
        except OSError as exc:
            raise OSError(exc.errno, f"listener {config.name}: {exc.strerror}") from exc
        return running

    async def _start_sink(self, config: SinkConfig) -> RunningSink:
        labels = (config.name, config.type)
        stats = SinkStats(self.metrics, *labels)
        sink = SINKS[config.type](config, stats, Path(self.config.state_dir))
        queue = SinkQueue(config.queue_size, config.overflow, on_drop=stats.dropped_overflow)
        self.metrics.queue_depth.labels(*labels).set_function(lambda: len(queue))
        try:
            await sink.open()
        except BaseException:
            await sink.close()
            raise
        running = RunningSink(config=config, queue=queue)
        assert self._nursery is not None
        self._nursery.start_soon(self._run_sink, sink, running)
        return running

    async def _run_sink(self, sink: Sink, running: RunningSink) -> None:
        """The sink's task: write batches until its queue is closed and empty, with the
        sink's own background work beside it; then save or count what is left."""
        queue = running.queue
        labels = (sink.config.name, sink.config.type)
        in_hand: list[Batch] = []
        try:
            with running.scope:
                async with trio.open_nursery() as nursery:
                    await nursery.start(sink.maintain)
                    await self._drain(sink, queue, in_hand)
                    await sink.flush()
                    nursery.cancel_scope.cancel()
        finally:
            left = [*in_hand, *queue.take_all()]
            lost = sum(len(batch) for batch in left if not sink.salvage(batch))
            if lost:
                self.metrics.dropped.labels(*labels, "stopped").inc(lost)
                log.warning("sink stopped with events unwritten", extra={"sink": sink.name, "events": lost})
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await sink.close()
            running.done.set()

    async def _drain(self, sink: Sink, queue: SinkQueue, in_hand: list[Batch]) -> None:
        labels = (sink.config.name, sink.config.type)
        written = self.metrics.written.labels(*labels)
        errors = self.metrics.errors.labels(*labels)
        lost = self.metrics.dropped.labels(*labels, "error")
        seconds = self.metrics.write_seconds.labels(*labels)
        while (batch := await queue.get(sink.batch_events, sink.linger)) is not None:
            in_hand[:] = [batch]
            started = time.perf_counter()
            try:
                await sink.write(batch)
            except Exception as exc:
                errors.inc()
                lost.inc(len(batch))
                log.error("sink write failed", extra={"sink": sink.name, "events": len(batch), "error": repr(exc)})
            else:
                written.inc(len(batch))
                seconds.observe(time.perf_counter() - started)
            in_hand.clear()

    async def _stop_sink(self, running: RunningSink, deadline: float) -> None:
        running.queue.close()
        with trio.move_on_after(deadline):
            await running.done.wait()
        running.scope.cancel()
        await running.done.wait()

    # -- health --------------------------------------------------------------------------

    async def health_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """/metrics, /healthz (the process answers) and /readyz (listening, not stopping)."""
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        path = scope["path"]
        if path == "/metrics":
            await self._metrics_app(scope, receive, send)
        elif path == "/healthz":
            await respond_json(send, 200, {"status": "ok"})
        elif path == "/readyz":
            await respond_json(send, 200 if self.ready else 503, {"ready": self.ready})
        else:
            await respond(send, 404, b"not found: try /metrics, /healthz or /readyz\n")
