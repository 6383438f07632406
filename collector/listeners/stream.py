"""TCP and unix stream sockets: newline-delimited lines, many connections at once."""

from __future__ import annotations

import os
import socket

import trio

from ..addresses import ListenAddress
from ..framing import LineFramer
from ..logs import log
from .intake import Intake

CHUNK = 256 * 1024


async def serve_stream(
    address: ListenAddress, intake: Intake, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    listeners = await _open_listeners(address)
    connections = intake.metrics.connections.labels(intake.name)
    refused = intake.metrics.connections_refused.labels(intake.name)
    idle_closed = intake.metrics.idle_closed.labels(intake.name)
    open_connections = 0

    async def handle(stream: trio.SocketStream) -> None:
        nonlocal open_connections
        if open_connections >= intake.limits.max_connections:
            refused.inc()
            intake.flood.warning(f"refused:{intake.name}", "connection refused: max_connections", listener=intake.name)
            await stream.aclose()
            return
        open_connections += 1
        connections.inc()
        try:
            await _read_lines(stream, intake, idle_closed)
        except (trio.BrokenResourceError, OSError) as exc:
            log.debug("connection broken", extra={"listener": intake.name, "error": repr(exc)})
        except Exception:  # one connection's trouble must not end the listener
            log.exception("connection handler failed", extra={"listener": intake.name})
        finally:
            open_connections -= 1
            connections.dec()
            await stream.aclose()

    try:
        async with trio.open_nursery() as nursery:
            task_status.started()
            await trio.serve_listeners(handle, listeners, handler_nursery=nursery)
    finally:
        if address.scheme == "unix":
            _unlink_socket(address.path)


async def _read_lines(stream: trio.SocketStream, intake: Intake, idle_closed: object) -> None:
    framer = LineFramer(intake.limits.max_line_bytes)
    idle_timeout = intake.limits.idle_timeout
    while True:
        chunk = b""
        with trio.move_on_after(idle_timeout) as idle:
            chunk = await stream.receive_some(CHUNK)
        if idle.cancelled_caught:
            idle_closed.inc()  # type: ignore[attr-defined]
            return
        if not chunk:
            last = framer.finish()
            if last:
                await intake.take(last, size=0, messages=0)
            return
        lines, too_long = framer.feed(chunk)
        await intake.take(lines, size=len(chunk), too_long=too_long)


async def _open_listeners(address: ListenAddress) -> list[trio.SocketListener]:
    if address.scheme != "unix":
        return await trio.open_tcp_listeners(address.port, host=address.host)
    _unlink_socket(address.path)
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        await sock.bind(address.path)
        sock.listen(socket.SOMAXCONN)
    except BaseException:
        sock.close()
        raise
    return [trio.SocketListener(sock)]


def _unlink_socket(path: str) -> None:
    try:
        if os.path.exists(path) and not os.path.isfile(path):
            os.unlink(path)
    except OSError:
        pass
