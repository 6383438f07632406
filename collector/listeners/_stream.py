"""TCP and unix stream sockets: newline-delimited lines, many connections at once.

Connections are accepted and bounded in _accept.py (shared with the HTTP listener); here
each one is read chunk by chunk into the framer, which bounds line length, and a
connection silent for ``idle_timeout`` is closed and counted.
"""

from __future__ import annotations

import trio

from ..config import ListenAddress
from ..wire import LineFramer
from ._accept import serve_connections
from ._intake import Intake
from ._sockets import open_stream_listeners, unlink_socket

CHUNK = 256 * 1024


async def serve_stream(
    address: ListenAddress, intake: Intake, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    listeners = await open_stream_listeners(address)

    async def handle(stream: trio.SocketStream) -> None:
        await _read_lines(stream, intake)

    try:
        await serve_connections(listeners, intake, handle, task_status=task_status)
    finally:
        if address.scheme == "unix":
            unlink_socket(address.path)


async def _read_lines(stream: trio.SocketStream, intake: Intake) -> None:
    framer = LineFramer(intake.limits.max_line_bytes)
    idle_timeout = intake.limits.idle_timeout
    while True:
        chunk = b""
        with trio.move_on_after(idle_timeout) as idle:
            chunk = await stream.receive_some(CHUNK)
        if idle.cancelled_caught:
            intake.metrics.idle_closed.labels(intake.name).inc()
            return
        if not chunk:
            last = framer.finish()
            if last:
                await intake.receive(last, size=0, messages=0, too_long=0)
            return
        lines, too_long = framer.feed(chunk)
        await intake.receive(lines, size=len(chunk), too_long=too_long)
