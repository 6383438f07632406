"""numbatd's life: start sinks and listeners, reload on SIGHUP, drain on SIGTERM.

One task per listener and per sink (the sink's :class:`~collector.router.SinkRunner`),
each in a cancel scope of its own, so a reload can replace one without touching the
others, and shutdown can stop intake first and then give the sinks a deadline to write
what they hold. A reload applies what it can: a listener or sink whose new settings
cannot start keeps running as it was, and the reload is reported as failed. At start
the descriptor limit is raised and the listeners' shared connection budget sized from it
(descriptors.py).
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path

import trio
from prometheus_client import make_asgi_app

from .asgi import Receive, Scope, Send, lifespan, respond, respond_json, serve_http
from .config import Config, Limits, ListenerConfig, SinkConfig, load_config
from .descriptors import ConnectionBudget, budget_for, raise_fd_limit
from .listeners import CONNECTION_SCHEMES, Intake, serve_listener
from .logs import FloodGate, log
from .queue import SinkQueue
from .router import Route, Router, SinkRunner
from .schema import ConfigError
from .selfmetrics import SelfMetrics, SinkStats
from .sinks import SINKS


@dataclass(kw_only=True)
class RunningListener:
    """A started listener: stop it by cancelling its scope."""

    config: ListenerConfig
    limits: Limits
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    done: trio.Event = field(default_factory=trio.Event)


class Daemon:
    def __init__(self, config: Config, config_path: Path | None = None) -> None:
        self.config = config
        self.config_path = config_path
        self.metrics = SelfMetrics()
        self.flood = FloodGate(config.log.flood_rate)
        self.router = Router()
        self.listeners: dict[str, RunningListener] = {}
        self.sinks: dict[str, SinkRunner] = {}
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
                    limits = self.config.limits_for(listener_config)
                    self.listeners[listener_config.name] = await self._start_listener(listener_config, limits)
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
                "rejected": int(self.metrics.total(self.metrics.rejected)),
                "sinks": {name: runner.summary() for name, runner in self.sinks.items()},
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
                for runner in self.sinks.values():
                    nursery.start_soon(runner.stop, self.config.shutdown_timeout)

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
        failed = await self._reload_sinks(old, new) + await self._reload_listeners(new)
        if failed:
            self.metrics.reloads.labels("failed").inc()
            log.error(
                "reload failed in part: what could not start keeps running as it was",
                extra={"failed": failed, "listeners": sorted(self.listeners), "sinks": sorted(self.sinks)},
            )
            return
        self.metrics.reloads.labels("applied").inc()
        log.info(
            "configuration reloaded",
            extra={"listeners": sorted(self.listeners), "sinks": sorted(self.sinks)},
        )

    async def _reload_sinks(self, old: Config, new: Config) -> list[str]:
        """Start new sinks, stop removed ones, and restart changed ones on a fresh queue that
        takes their events from now on; a sink whose new settings cannot start goes back to
        its old ones. The failures."""
        wanted = {c.name: c for c in new.sinks}
        assert self._nursery is not None
        for name in [name for name in self.sinks if name not in wanted]:
            self._nursery.start_soon(self.sinks.pop(name).stop, old.shutdown_timeout)
        failed = []
        for name, config in wanted.items():
            current = self.sinks.get(name)
            if current is not None and current.config == config:
                continue
            queue = self._queue_for(config)
            if current is not None:
                # Events go to the new queue at once, while the old sink writes out its own:
                # the two never hold one spool at the same time.
                self._route(replacing={name: Route(config, queue)})
                await current.stop(old.shutdown_timeout)
            try:
                self.sinks[name] = await self._start_sink(config, queue)
            except Exception as exc:
                log.error("sink did not start", extra={"sink": name, "error": f"{type(exc).__name__}: {exc}"})
                failed.append(f"sink {name}")
                if current is not None:
                    await self._restore_sink(current.config, queue)
        self._route()
        return failed

    async def _restore_sink(self, config: SinkConfig, queue: SinkQueue) -> None:
        try:
            self.sinks[config.name] = await self._start_sink(config, queue)
        except Exception as exc:
            del self.sinks[config.name]
            log.error("sink lost: its old settings fail too", extra={"sink": config.name, "error": repr(exc)})
        else:
            log.warning("sink kept its old settings", extra={"sink": config.name})

    async def _reload_listeners(self, new: Config) -> list[str]:
        """Replace what changed; a listener whose new settings cannot bind goes back to
        its old ones. The failures."""
        wanted = {c.name: c for c in new.listeners}
        for name in [name for name in self.listeners if name not in wanted]:
            await self._stop_listener(name)
        failed = []
        for name, config in wanted.items():
            current, limits = self.listeners.get(name), new.limits_for(config)
            if current is not None and (current.config, current.limits) == (config, limits):
                continue
            if current is not None:
                await self._stop_listener(name)  # its port must be free before a successor binds it
            try:
                self.listeners[name] = await self._start_listener(config, limits)
            except OSError as exc:
                log.error("listener did not start", extra={"listener": name, "error": str(exc)})
                failed.append(f"listener {name}")
                if current is not None:
                    await self._restore_listener(current)
        return failed

    async def _stop_listener(self, name: str) -> None:
        listener = self.listeners.pop(name)
        listener.scope.cancel()
        await listener.done.wait()

    async def _restore_listener(self, old: RunningListener) -> None:
        name = old.config.name
        try:
            self.listeners[name] = await self._start_listener(old.config, old.limits)
        except OSError as exc:
            log.error(
                "listener lost: its old settings do not start either", extra={"listener": name, "error": str(exc)}
            )
        else:
            log.warning("listener kept its old settings", extra={"listener": name})

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

    def _route(self, replacing: dict[str, Route] | None = None) -> None:
        routes = {name: runner.route for name, runner in self.sinks.items()} | (replacing or {})
        self.router.replace(list(routes.values()))

    async def _start_listener(self, config: ListenerConfig, limits: Limits) -> RunningListener:
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

    def _queue_for(self, config: SinkConfig) -> SinkQueue:
        stats = SinkStats(self.metrics, config.name, config.type)
        return SinkQueue(config.queue_size, config.overflow, on_drop=stats.dropped_overflow)

    async def _start_sink(self, config: SinkConfig, queue: SinkQueue | None = None) -> SinkRunner:
        stats = SinkStats(self.metrics, config.name, config.type)
        sink = SINKS[config.type](config, stats, Path(self.config.state_dir))
        runner = await SinkRunner.open(sink, queue or self._queue_for(config), self.metrics)
        assert self._nursery is not None
        self._nursery.start_soon(runner.run)
        return runner

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
