"""Opening the listening sockets: TCP or unix stream, UDP or unix datagram.

A unix socket's file outlives a process that was killed, and bind fails on it; so a
stale socket file at the path is removed first (never a regular file: that is a
mistake in the configuration, and bind names it), and the file is removed at stop.

A unix datagram socket queues at most net.unix.max_dgram_qlen datagrams (10 by
default), whatever its receive buffer: past that a sender blocks, or drops (DogStatsD
clients do, by default). Said once at start when it is small.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import trio

from ..config import ListenAddress
from ..observe import log

SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux; Python does not name it
UNIX_DGRAM_QLEN = Path("/proc/sys/net/unix/max_dgram_qlen")
UNIX_DGRAM_QLEN_ADVISED = 512


async def open_stream_listeners(address: ListenAddress) -> list[trio.SocketListener]:
    """``tcp://`` (every address the host resolves to) or ``unix://``."""
    if address.scheme != "unix":
        return await trio.open_tcp_listeners(address.port, host=address.host)
    unlink_socket(address.path)
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        await sock.bind(address.path)
        sock.listen(socket.SOMAXCONN)
    except BaseException:
        sock.close()
        raise
    return [trio.SocketListener(sock)]


def open_datagram_socket(address: ListenAddress, receive_buffer: int, listener: str) -> socket.socket:
    """``udp://`` or ``unixgram://``, bound and non-blocking."""
    if address.scheme == "unixgram":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        where: str | tuple[str, int] = address.path
        unlink_socket(address.path)
        _check_unix_queue(listener)
    else:
        sock = socket.socket(socket.AF_INET6 if ":" in address.host else socket.AF_INET, socket.SOCK_DGRAM)
        where = (address.host, address.port)
    try:
        size_receive_buffer(sock, receive_buffer, listener)
        sock.bind(where)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def size_receive_buffer(sock: socket.socket, wanted: int, listener: str) -> None:
    """The kernel's buffer is what absorbs a burst while we decode. Past net.core.rmem_max
    only a privileged process may go (SO_RCVBUFFORCE); say so when we got less."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, wanted)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)
    granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2  # Linux reports double
    if granted < wanted:
        log.warning(
            "receive buffer smaller than configured; raise net.core.rmem_max",
            extra={"listener": listener, "wanted": wanted, "granted": granted},
        )


def _check_unix_queue(listener: str) -> None:
    try:
        queue = int(UNIX_DGRAM_QLEN.read_text())
    except (OSError, ValueError):
        return  # not Linux, or no /proc
    if queue < UNIX_DGRAM_QLEN_ADVISED:
        log.warning(
            "unix datagram queue is short: senders block or drop past it; raise net.unix.max_dgram_qlen",
            extra={"listener": listener, "max_dgram_qlen": queue, "advised": UNIX_DGRAM_QLEN_ADVISED},
        )


def unlink_socket(path: str) -> None:
    """Remove the socket file at ``path``, if there is one."""
    try:
        if os.path.exists(path) and not os.path.isfile(path):
            os.unlink(path)
    except OSError:
        pass
