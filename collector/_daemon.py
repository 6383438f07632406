"""numbatd's life: wire the parts together, reload on SIGHUP, drain on SIGTERM.

The parts run themselves: the listeners (listeners/: bound, served, replaced), the router
and the sinks and aggregations behind it (router/: each sink's queue and task; aggregate/:
each aggregation's flushes), the health endpoint (observe/). The daemon starts them in
the order events flow backwards (sinks before the listeners that feed them), and stops
them in the order events flow: intake first, then the aggregations flush what they hold,
then the sinks get a deadline to write what they hold. A reload applies what it can: a
listener or sink whose new settings cannot start keeps running as it was, and the reload
is counted and logged as failed.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from pathlib import Path

import trio

from .config import Config, ConfigError, load_config
from .listeners import Listeners
from .observe import FloodGate, HealthApp, SelfMetrics, log, serve_health
from .router import Router
from .sinks import SINK_TYPES, SinkType


class Daemon:
    """numbatd: run :meth:`run` as a trio task (``trio.run(Daemon(config).run)``).

    ``config_path`` is the file SIGHUP reloads (none: the embedded defaults, nothing to
    reload); ``sink_types`` the registry of sinks the configuration may name.
    """

    def __init__(
        self, config: Config, config_path: Path | None = None, *, sink_types: Mapping[str, SinkType] = SINK_TYPES
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.sink_types = sink_types
        self.metrics = SelfMetrics()
        self.flood = FloodGate(config.log.flood_rate)
        self.router = Router(self.metrics, sink_types=sink_types)
        self.listeners = Listeners(self.router, self.metrics, self.flood)
        self.ready = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with trio.open_signal_receiver(signal.SIGHUP, signal.SIGTERM, signal.SIGINT) as signals:
            async with trio.open_nursery() as nursery:
                self.listeners.raise_fd_limit(self.config)
                listen = self.config.self_metrics.listen
                if listen:
                    await nursery.start(serve_health, HealthApp(self.metrics, lambda: self.ready), listen)
                await nursery.start(self.router.run)
                await nursery.start(self.listeners.run)
                await self.router.start(self.config)
                await self.listeners.start(self.config)
                self.ready = True
                log.info(
                    "numbatd started",
                    extra={
                        "listeners": [f"{c.url} ({c.format})" for c in self.config.listeners],
                        "sinks": [c.name for c in self.config.sinks],
                        "aggregations": [f"{c.name} ({c.interval:g}s)" for c in self.config.aggregations],
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
                "sinks": self.router.summary(),
            },
        )

    async def shutdown(self) -> None:
        """Stop intake, then let every sink write what it holds, within the deadline."""
        self.ready = False
        await self.listeners.stop()
        await self.router.stop(self.config.shutdown_timeout)

    async def reload(self) -> None:
        if self.config_path is None:
            log.warning("SIGHUP ignored: numbatd runs on its embedded defaults, there is no file to reload")
            return
        try:
            new = load_config(self.config_path, self.sink_types)
        except ConfigError as exc:
            self.metrics.reloads.labels("refused").inc()
            log.error("reload refused; the running configuration stays", extra={"error": str(exc)})
            return
        if new.self_metrics != self.config.self_metrics or new.log != self.config.log:
            log.warning("self_metrics and log settings take effect at the next restart")
        old, self.config = self.config, new
        failed = await self.router.reconfigure(new, old.shutdown_timeout)
        failed += await self.listeners.reconfigure(new)
        names = {
            "listeners": sorted(self.listeners.running),
            "sinks": sorted(self.router.runners),
            "aggregations": sorted(self.router.stage.aggregations),
        }
        if failed:
            self.metrics.reloads.labels("failed").inc()
            log.error(
                "reload failed in part: what could not start keeps running as it was",
                extra={"failed": failed, **names},
            )
            return
        self.metrics.reloads.labels("applied").inc()
        log.info("configuration reloaded", extra=names)
