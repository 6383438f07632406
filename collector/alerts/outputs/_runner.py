"""Each output's own queue and task: what keeps one slow, failing or hung output from
delaying any other, or the rules that produce the notifications.

:meth:`OutputRunner.submit` never waits: it puts the notification in the output's bounded
queue, or, when that is full, drops it and counts it. The runner's task takes them in
order and gives each up to ``max_attempts`` attempts, each cut off after ``timeout``
seconds, with jittered exponential backoff between them (a Retry-After heeded up to
``retry_cap``). One notification at a time keeps a trigger before its resolve; an output
that may run several at once (the remediation) says so with ``workers``. An output that
needs periodic work between notifications (Alertmanager's re-posts) gets it from the same
task, in the same order. :class:`Dispatch` hands each notification to every runner whose
output takes it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import trio

from emitter.backoff import Backoff

from ...observe import AlertOutputStats, FloodGate, SelfMetrics, log
from .._model import Notification
from ._base import Output, Rejected, Retryable


class OutputRunner:
    """One output's queue, retries and task. ``run`` until ``close`` (what is queued is
    sent first) or until cancelled (what is queued is counted as dropped)."""

    def __init__(
        self,
        output: Output[Any],
        stats: AlertOutputStats | None = None,
        *,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.output = output
        self.stats = stats or AlertOutputStats(SelfMetrics(), output.name, output.kind)
        self._rand = rand
        self._send, self._receive = trio.open_memory_channel[Notification](output.options.queue_size)
        self._gate = FloodGate(5)
        self.stats.watch_queue(lambda: self.queued)

    @property
    def name(self) -> str:
        return self.output.name

    @property
    def queued(self) -> int:
        """Notifications waiting (not counting the one in hand)."""
        return self._send.statistics().current_buffer_used

    def submit(self, notification: Notification) -> bool:
        """Queue ``notification`` if the output takes it; never waits. False when the
        output does not take it, or the queue is full or closed (then it is counted)."""
        if not self.output.accepts(notification):
            return False
        try:
            self._send.send_nowait(notification)
        except trio.WouldBlock:
            self.stats.dropped_overflow()
            self._warn("overflow", "alert output queue full; notification dropped", notification)
            return False
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            self.stats.dropped_stopped()
            return False
        return True

    def close(self) -> None:
        """No more notifications: ``run`` returns once the queue is empty."""
        self._send.close()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with trio.open_nursery() as nursery:
                for _ in range(self.output.workers):
                    nursery.start_soon(self._work)
                task_status.started()
        finally:
            left = 0
            while True:
                try:
                    self._receive.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                    break
                left += 1
            self._receive.close()  # later submits are counted as dropped, not left waiting
            if left:
                self.stats.dropped_stopped(left)
                log.warning(
                    "alert output stopped with notifications queued",
                    extra={"output": self.name, "type": self.output.kind, "dropped": left},
                )
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await self.output.aclose()

    async def _work(self) -> None:
        interval = self.output.refresh_interval if self.output.workers == 1 else None
        next_refresh = trio.current_time() + interval if interval else math.inf
        while True:
            if trio.current_time() >= next_refresh:
                await self._refresh()
                next_refresh = trio.current_time() + (interval or math.inf)
            notification = None
            with trio.move_on_at(next_refresh):
                try:
                    notification = await self._receive.receive()
                except trio.EndOfChannel:
                    return
            if notification is not None:
                try:
                    await self._deliver(notification)
                except trio.Cancelled:  # stopped with it in hand: lost, and counted so
                    self.stats.dropped_stopped()
                    raise

    async def _deliver(self, notification: Notification) -> None:
        output, options = self.output, self.output.options
        backoff = Backoff(options.retry_base, options.retry_cap, self._rand)
        attempts = options.max_attempts if output.retries else 1
        for attempt in range(1, attempts + 1):
            try:
                problem = await self._attempt(output.send, notification)
            except Rejected as exc:
                self.stats.failed(exc.reason)
                if not exc.logged:
                    self._warn(exc.reason, "alert output refused a notification", notification, error=str(exc))
                return
            except Exception as exc:  # a bug in an output: count it, keep the runner alive
                self.stats.failed("error")
                self._warn("error", "alert output failed", notification, error=f"{type(exc).__name__}: {exc}")
                return
            if problem is None:
                self.stats.sent()
                return
            if attempt == attempts:
                self.stats.failed("gave up")
                self._warn(
                    "gave up",
                    "alert output gave up on a notification",
                    notification,
                    error=str(problem),
                    attempts=attempt,
                )
                return
            self.stats.retried()
            delay = backoff.next_delay()
            if problem.retry_after is not None:
                delay = max(delay, min(problem.retry_after, options.retry_cap))
            self._warn("retry", "alert output will try again", notification, error=str(problem), delay=round(delay, 3))
            await trio.sleep(delay)

    async def _attempt(self, call: Callable[..., Any], *args: Any) -> Retryable | None:
        """One attempt within the timeout: None if it went through, the Retryable if not."""
        timeout = self.output.attempt_timeout
        try:
            with trio.fail_after(timeout):
                await call(*args)
        except trio.TooSlowError:
            return Retryable(f"no answer from {self.output.where} within {timeout:g} s")
        except Retryable as exc:
            return exc
        return None

    async def _refresh(self) -> None:
        try:
            problem = await self._attempt(self.output.refresh)
        except Exception as exc:
            problem = Retryable(f"{type(exc).__name__}: {exc}")
        if problem is not None:
            self.stats.failed("refresh")
            self._warn("refresh", "alert output's periodic re-post failed", None, error=str(problem))

    def _warn(self, kind: str, message: str, notification: Notification | None, **fields: Any) -> None:
        if notification is not None:
            fields |= {"action": notification.action, "incident": notification.incident.key}
        if "error" in fields:
            fields["error"] = self.output.redact(str(fields["error"]))
        self._gate.warning(kind, message, output=self.name, type=self.output.kind, where=self.output.where, **fields)


class Dispatch:
    """The runners of one alerts sink: a notification goes to each output that takes it."""

    def __init__(self, runners: Iterable[OutputRunner]) -> None:
        self.runners: Sequence[OutputRunner] = tuple(runners)

    def submit(self, notification: Notification) -> int:
        """How many outputs queued it; never waits."""
        return sum(runner.submit(notification) for runner in self.runners)

    def close(self) -> None:
        for runner in self.runners:
            runner.close()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Every runner, each in its own task, until each is closed (or all are cancelled)."""
        async with trio.open_nursery() as nursery:
            for runner in self.runners:
                await nursery.start(runner.run)
            task_status.started()
