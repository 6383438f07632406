"""Live mode's syslog listener: TCP or UDP, IPv4 or IPv6, with named bounds.

Strategy. UDP is drained: wait until the socket is readable, then read it non-blocking
until it is empty (or :attr:`ListenerLimits.udp_drain_batch` datagrams were read) and
hand all their lines to the live job at once, as the collector's UDP listener does; an
``await`` per datagram cannot keep up with a sender at full speed, and the kernel drops
what its buffer cannot hold. TCP has its own accept loop (``trio.serve_tcp`` can refuse
nothing): past ``max_connections`` open connections a new one is closed at once; a
connection that sends nothing for ``idle_timeout`` seconds is closed; each connection's
framer (:class:`~log_parser.core._syslog_framing.SyslogFramer`) skips a message longer
than ``max_line_bytes`` and keeps the messages beside it, and UDP lines are held to the
same length. Whatever a bound stops is counted: a refused line in the tally's rejected
lines (:data:`LINE_TOO_LONG`), a refused or idle connection as an input event the live
job emits (:data:`CONNECTIONS_REFUSED`, :data:`CONNECTIONS_CLOSED_IDLE`).
"""

from __future__ import annotations

import errno
import logging
import socket

import trio

from .._syslog_address import SyslogAddress, parse_syslog_url
from .._syslog_limits import ListenerLimits
from ..core._syslog_framing import SyslogFramer
from ._job import LineHandler, LineInput

#: The reason a line longer than ``max_line_bytes`` is refused for.
LINE_TOO_LONG = "line too long"
#: Input events, emitted as ``input.<event>`` by the live job.
CONNECTIONS_REFUSED = "connections_refused"
CONNECTIONS_CLOSED_IDLE = "connections_closed_idle"
ACCEPT_FAILED = "accept_failed"

MAX_DATAGRAM = 65_535
RECEIVE_BYTES = 256 * 1024  #: read from a TCP connection at a time
UDP_RECEIVE_BUFFER = 4 << 20  #: the kernel buffer asked for, which absorbs a burst while lines are counted
#: accept() errors that mean "not now" (out of descriptors or memory), and the wait before the next try.
RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
ACCEPT_RETRY = 0.1

log = logging.getLogger("log_parser")


def listen_syslog(url: str, limits: ListenerLimits | None = None) -> LineInput:
    """The listener of ``url`` (checked now: ValueError) as an input of the live job.
    Started with ``nursery.start``, it reports the addresses it is bound to."""
    address = parse_syslog_url(url)
    bounds = limits or ListenerLimits()

    async def listen(
        handler: LineHandler, *, task_status: trio.TaskStatus[list[tuple[str, int]]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        if address.transport == "udp":
            await _serve_udp(address, bounds, handler, task_status)
        else:
            await _serve_tcp(address, bounds, handler, task_status)

    return listen


# -- UDP ----------------------------------------------------------------------------------


async def _serve_udp(
    address: SyslogAddress,
    limits: ListenerLimits,
    handler: LineHandler,
    task_status: trio.TaskStatus[list[tuple[str, int]]],
) -> None:
    family, _, _, _, where = socket.getaddrinfo(address.host, address.port, type=socket.SOCK_DGRAM)[0]
    sock = socket.socket(family, socket.SOCK_DGRAM)
    with sock:
        _ask_receive_buffer(sock, UDP_RECEIVE_BUFFER)
        sock.bind(where)
        sock.setblocking(False)
        task_status.started([sock.getsockname()[:2]])
        while True:
            await trio.lowlevel.wait_readable(sock)
            datagrams = _drain(sock, limits.udp_drain_batch)
            if datagrams:
                await _hand_over(b"\n".join(datagrams).split(b"\n"), limits.max_line_bytes, handler)
            await trio.lowlevel.checkpoint()


def _drain(sock: socket.socket, most: int) -> list[bytes]:
    """Up to ``most`` datagrams the socket holds now, without waiting."""
    datagrams = []
    receive = sock.recv
    for _ in range(most):
        try:
            datagrams.append(receive(MAX_DATAGRAM))
        except (BlockingIOError, InterruptedError):
            break
        except OSError:  # an ICMP error reported on the socket; it stays usable
            break
    return datagrams


async def _hand_over(lines: list[bytes], max_line_bytes: int, handler: LineHandler) -> None:
    """The lines that are not empty to the handler; those too long refused, counted."""
    if max(map(len, lines)) > max_line_bytes:
        handler.refuse_lines(LINE_TOO_LONG, sum(len(line) > max_line_bytes for line in lines))
        lines = [line for line in lines if len(line) <= max_line_bytes]
    kept = [line for line in lines if line]
    if kept:
        await handler.handle_lines(kept)


def _ask_receive_buffer(sock: socket.socket, wanted: int) -> None:
    """The kernel grants at most net.core.rmem_max (live runs unprivileged, so it cannot
    go past it); a smaller buffer is said once, with the fix."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)
    granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2  # Linux reports double
    if granted < wanted:
        log.warning(
            "syslog UDP receive buffer is %d bytes, %d asked: raise net.core.rmem_max to absorb bursts",
            granted,
            wanted,
        )


# -- TCP ----------------------------------------------------------------------------------


async def _serve_tcp(
    address: SyslogAddress,
    limits: ListenerLimits,
    handler: LineHandler,
    task_status: trio.TaskStatus[list[tuple[str, int]]],
) -> None:
    listeners = await trio.open_tcp_listeners(address.port, host=address.host)
    connections = _Connections(limits, handler)
    async with trio.open_nursery() as nursery:
        for listener in listeners:
            nursery.start_soon(connections.accept_all, listener, nursery)
        task_status.started([listener.socket.getsockname()[:2] for listener in listeners])


class _Connections:
    """One listener's open connections: admitted against ``max_connections``, each read
    through its own framer until it closes or falls idle."""

    def __init__(self, limits: ListenerLimits, handler: LineHandler) -> None:
        self.limits = limits
        self.handler = handler
        self.open = 0

    async def accept_all(self, listener: trio.SocketListener, nursery: trio.Nursery) -> None:
        async with listener:
            while True:
                stream = await self._next_connection(listener)
                if self.open < self.limits.max_connections:
                    self.open += 1
                    nursery.start_soon(self.read, stream)
                else:
                    self.handler.count_event(CONNECTIONS_REFUSED)
                    await stream.aclose()

    async def _next_connection(self, listener: trio.SocketListener) -> trio.SocketStream:
        """The next connection; while the process is out of descriptors or memory, the
        connections wait in the kernel's backlog and accept is tried again, counted."""
        while True:
            try:
                return await listener.accept()
            except OSError as exc:
                if exc.errno not in RESOURCE_ERRORS:
                    raise
                self.handler.count_event(ACCEPT_FAILED)
                await trio.sleep(ACCEPT_RETRY)

    async def read(self, stream: trio.SocketStream) -> None:
        """The connection's messages to the handler until it ends, breaks or falls idle."""
        framer = SyslogFramer(self.limits.max_line_bytes)
        try:
            async with stream:
                while True:
                    data = b""
                    with trio.move_on_after(self.limits.idle_timeout) as idle:
                        data = await stream.receive_some(RECEIVE_BYTES)
                    if idle.cancelled_caught:
                        self.handler.count_event(CONNECTIONS_CLOSED_IDLE)
                        return
                    if not data:
                        return
                    refused = framer.refused
                    messages = framer.feed(data)
                    if framer.refused > refused:
                        self.handler.refuse_lines(LINE_TOO_LONG, framer.refused - refused)
                    if messages:
                        await self.handler.handle_lines(messages)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            return  # the peer reset it: what came before counts
        finally:
            self.open -= 1
