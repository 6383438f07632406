"""What the alert output tests share: incidents to notify about, runners to run them, and
bounded waiting on trio."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import trio

from collector.alerts import Incident, Notification
from collector.alerts.outputs import Output, OutputRunner
from collector.observe import AlertOutputStats, SelfMetrics
from collector.observe._logging import JsonFormatter

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20.000Z
T0_ISO = "2023-11-14T22:13:20.000Z"

HEARTBEAT = Incident(
    key="heartbeat/web.heartbeat/app=web/host=web-1",
    rule="heartbeat",
    kind="heartbeat",
    severity="critical",
    summary="web-1 heartbeat missed for 45 s (ttl 30 s)",
    labels=(("app", "web"), ("host", "web-1")),
    opened_ms=T0,
    updated_ms=T0,
    value=45.0,
    details=(("description", "no beat since 22:12:35"),),
)


def notify(action: str, incident: Incident = HEARTBEAT, at_ms: int = T0, **changes: Any) -> Notification:
    if changes:
        incident = Incident(**{**incident.__dict__, **changes})
    return Notification(action, incident, at_ms)  # type: ignore[arg-type]


def in_trio(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        trio.run(functools.partial(test, *args, **kwargs))

    return run


async def until(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Poll ``predicate`` on trio until true; fail after ``timeout`` seconds."""
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


class Counts:
    """One metrics registry's alert output counters, read by output name."""

    def __init__(self) -> None:
        self.metrics = SelfMetrics()

    def stats(self, output: Output[Any]) -> AlertOutputStats:
        return AlertOutputStats(self.metrics, output.name, output.kind)

    def sent(self, name: str) -> int:
        return int(self.metrics.values(self.metrics.alert_sent, output=name).get("", 0))

    def retried(self, name: str) -> int:
        return int(self.metrics.values(self.metrics.alert_retries, output=name).get("", 0))

    def failed(self, name: str) -> dict[str, int]:
        return {k: int(v) for k, v in self.metrics.values(self.metrics.alert_failed, "reason", output=name).items()}

    def dropped(self, name: str) -> dict[str, int]:
        return {k: int(v) for k, v in self.metrics.values(self.metrics.alert_dropped, "cause", output=name).items()}


@asynccontextmanager
async def running(counts: Counts, *outputs: Output[Any]) -> AsyncIterator[list[OutputRunner]]:
    """A runner per output, running until the block ends (then cancelled). The jitter is
    fixed at its least (half the nominal delay) so retry timings are known."""
    runners = [OutputRunner(output, counts.stats(output), rand=lambda: 0.0) for output in outputs]
    async with trio.open_nursery() as nursery:
        for runner in runners:
            await nursery.start(runner.run)
        yield runners
        nursery.cancel_scope.cancel()


def log_text(records: Iterable[logging.LogRecord]) -> str:
    """The records as numbatd writes them (JSON lines, every field), to search for secrets."""
    formatter = JsonFormatter()
    return "\n".join(formatter.format(record) for record in records)
