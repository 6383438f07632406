"""The daemon's listeners, by name: each bound and served in a cancel scope of its own, so
a reload can replace one without touching the others, and a stop ends intake at once.

A reload applies what it can: a listener whose new settings cannot bind goes back to
its old ones, and the reload names it as failed. The connections every listener together
may hold are one budget, sized from the process's descriptor limit (_descriptors.py),
which is raised at start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import trio

from ..config import Config, Limits, ListenerConfig
from ..observe import FloodGate, SelfMetrics, log
from ._descriptors import ConnectionBudget, budget_for, raise_fd_limit
from ._http import serve_http_listener
from ._intake import Intake, Router
from ._stream import serve_stream
from ._udp import serve_datagrams

#: The listener kinds whose connections hold a descriptor each, bounded by max_connections.
CONNECTION_SCHEMES = frozenset({"tcp", "unix", "http"})


async def serve_listener(intake: Intake, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Bind, report started, then serve until cancelled."""
    address = intake.config.address
    if address.scheme in ("udp", "unixgram"):
        await serve_datagrams(address, intake, task_status=task_status)
    elif address.scheme == "http":
        await serve_http_listener(address, intake, task_status=task_status)
    else:
        await serve_stream(address, intake, task_status=task_status)


@dataclass(kw_only=True)
class RunningListener:
    """A started listener: stop it by cancelling its scope."""

    config: ListenerConfig
    limits: Limits
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    done: trio.Event = field(default_factory=trio.Event)

    async def stop(self) -> None:
        """Cancel it and wait until its sockets are closed."""
        self.scope.cancel()
        await self.done.wait()


class Listeners:
    """Every listener of the daemon; their tasks run inside :meth:`run`."""

    def __init__(self, router: Router, metrics: SelfMetrics, flood: FloodGate) -> None:
        self.router = router
        self.metrics = metrics
        self.flood = flood
        self.running: dict[str, RunningListener] = {}
        self.fd_limit = 0
        self.budget = ConnectionBudget(0)  #: sized at start, when the limit is known
        self._nursery: trio.Nursery | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hold the listeners' tasks: report started, then run until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    def raise_fd_limit(self, config: Config) -> None:
        """Raise the process's descriptor limit as far as it goes, and size the budget from it."""
        before, self.fd_limit = raise_fd_limit()
        if self.fd_limit != before:
            log.info("file descriptor limit raised to the hard limit", extra={"from": before, "to": self.fd_limit})
        self.size_budget(config)

    async def start(self, config: Config) -> None:
        """Start every listener of ``config``."""
        for listener in config.listeners:
            self.running[listener.name] = await self._start(listener, config.limits_for(listener))

    async def reconfigure(self, config: Config) -> list[str]:
        """Replace what changed; a listener whose new settings cannot bind goes back to
        its old ones. The failures, as "listener NAME"."""
        self.size_budget(config)
        wanted = {listener.name: listener for listener in config.listeners}
        for name in [name for name in self.running if name not in wanted]:
            await self.running.pop(name).stop()
        failed = []
        for name, listener in wanted.items():
            current, limits = self.running.get(name), config.limits_for(listener)
            if current is not None and (current.config, current.limits) == (listener, limits):
                continue
            if current is not None:
                await self.running.pop(name).stop()  # its port must be free before a successor binds it
            try:
                self.running[name] = await self._start(listener, limits)
            except OSError as exc:
                log.error("listener did not start", extra={"listener": name, "error": str(exc)})
                failed.append(f"listener {name}")
                if current is not None:
                    await self._restore(current)
        return failed

    async def stop(self) -> None:
        """Stop every listener; return once all their sockets are closed."""
        for listener in self.running.values():
            listener.scope.cancel()
        for listener in self.running.values():
            await listener.done.wait()

    def size_budget(self, config: Config) -> None:
        """The connections every listener together may hold; say so when the listeners'
        max_connections add up to more, since connections past it will be refused."""
        reserve = config.limits.fd_reserve
        self.budget.capacity = budget_for(self.fd_limit, reserve)
        self.metrics.connection_budget.set(self.budget.capacity)
        wanted = sum(
            config.limits_for(listener).max_connections
            for listener in config.listeners
            if listener.address.scheme in CONNECTION_SCHEMES
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

    async def _start(self, config: ListenerConfig, limits: Limits) -> RunningListener:
        running = RunningListener(config=config, limits=limits)
        intake = Intake(config, limits, self.router, self.metrics, self.flood, budget=self.budget)

        async def serve(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            try:
                with running.scope:
                    await serve_listener(intake, task_status=task_status)
            finally:
                running.done.set()

        if self._nursery is None:
            raise RuntimeError("Listeners.run() holds the listeners' tasks: start it first")
        try:
            await self._nursery.start(serve)
        except OSError as exc:
            raise OSError(exc.errno, f"listener {config.name}: {exc.strerror}") from exc
        return running

    async def _restore(self, old: RunningListener) -> None:
        name = old.config.name
        try:
            self.running[name] = await self._start(old.config, old.limits)
        except OSError as exc:
            log.error(
                "listener lost: its old settings do not start either", extra={"listener": name, "error": str(exc)}
            )
        else:
            log.warning("listener kept its old settings", extra={"listener": name})
