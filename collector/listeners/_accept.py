"""Accepting connections, for the stream (TCP, unix) and HTTP listeners alike.

One loop per listening socket, in place of ``trio.serve_listeners``, which can refuse
nothing and, when descriptors run out, logs a traceback for every failed accept ten
times a second. Each accepted connection passes two bounds first: the listener's
``max_connections`` and the process's fd budget (_descriptors.py). Past either
it is closed at once and counted by reason; the descriptor that costs comes out of the
reserve the budget keeps. When accept itself fails for want of resources (EMFILE,
ENFILE, ENOBUFS, ENOMEM) the loop backs off, 10 ms doubling up to 1 s, counting every
failure but logging once per spell (rate-limited): the waiting connections stay in the
kernel's backlog until descriptors come free.
"""

from __future__ import annotations

import errno
from collections.abc import Awaitable, Callable

import trio

from emitter.backoff import Backoff

from ..observe import log
from ._intake import Intake

Handler = Callable[[trio.SocketStream], Awaitable[None]]

#: accept() errors that mean "not now": a full descriptor table, or no memory for a socket.
RESOURCE_ERRORS = {code: errno.errorcode[code] for code in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)}
MAX_CONNECTIONS = "max_connections"
FD_BUDGET = "fd budget"


class Connections:
    """One listener's open connections: admission against both bounds, and counting."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.open = 0
        metrics, name = intake.metrics, intake.name
        self._gauge = metrics.connections.labels(name)
        self._refused = {
            reason: metrics.connections_refused.labels(name, reason) for reason in (MAX_CONNECTIONS, FD_BUDGET)
        }

    def admit(self) -> str | None:
        """A place for one more connection; the reason when there is none."""
        if self.open >= self.intake.limits.max_connections:
            return MAX_CONNECTIONS
        if not self.intake.budget.acquire():
            return FD_BUDGET
        self.open += 1
        self._gauge.inc()
        return None

    def release(self) -> None:
        self.open -= 1
        self._gauge.dec()
        self.intake.budget.release()

    def refused(self, reason: str) -> None:
        self._refused[reason].inc()
        name = self.intake.name
        self.intake.flood.warning(f"refused:{name}", f"connection refused: {reason}", listener=name, reason=reason)

    async def serve(self, stream: trio.SocketStream, handler: Handler) -> None:
        """Run one admitted connection's handler; whatever happens, give its place back."""
        try:
            await handler(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            log.debug("connection broken", extra={"listener": self.intake.name, "error": repr(exc)})
        except Exception:  # one connection's trouble must not end the listener
            log.exception("connection handler failed", extra={"listener": self.intake.name})
        finally:
            self.release()
            await stream.aclose()


async def serve_connections(
    listeners: list[trio.SocketListener],
    intake: Intake,
    handler: Handler,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Accept on every socket of ``listeners`` and run ``handler`` for each admitted connection."""
    connections = Connections(intake)
    async with trio.open_nursery() as nursery:
        for listener in listeners:
            nursery.start_soon(_accept_loop, listener, connections, handler, nursery)
        task_status.started()


async def _accept_loop(
    listener: trio.SocketListener, connections: Connections, handler: Handler, nursery: trio.Nursery
) -> None:
    backoff = Backoff(base=0.01, cap=1.0)  # jittered: 10 ms doubling to 1 s
    async with listener:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                if exc.errno not in RESOURCE_ERRORS:
                    raise
                await _wait_out(connections, RESOURCE_ERRORS[exc.errno], backoff)
                continue
            if backoff.attempt:
                _recovered(connections, backoff)
            reason = connections.admit()
            if reason is None:
                nursery.start_soon(connections.serve, stream, handler)
            else:
                connections.refused(reason)
                await stream.aclose()


async def _wait_out(connections: Connections, error: str, backoff: Backoff) -> None:
    """Count the failure, say so once per spell, and wait before the next accept."""
    intake = connections.intake
    intake.metrics.accept_errors.labels(intake.name, error).inc()
    delay = backoff.next_delay()
    if backoff.attempt == 1:
        intake.flood.warning(
            f"accept:{intake.name}",
            f"accept failed ({error}): out of resources; backing off, connections wait in the backlog",
            listener=intake.name,
            error=error,
            connections=connections.open,
            budget=intake.budget.capacity,
        )
    await trio.sleep(delay)


def _recovered(connections: Connections, backoff: Backoff) -> None:
    failures = backoff.attempt
    backoff.reset()
    log.info("accept works again", extra={"listener": connections.intake.name, "failures": failures})
