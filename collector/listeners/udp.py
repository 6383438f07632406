"""UDP: wait until the socket is readable, then drain it without awaiting per datagram.

An ``await`` per datagram loses about half of them at a sender's full speed on these
machines; draining non-blocking reads loses none (see DESIGN.md).
"""

from __future__ import annotations

import socket

import trio

from ..addresses import ListenAddress
from ..logs import log
from .intake import Intake

MAX_DATAGRAM = 65_535
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux; Python does not name it


def _size_receive_buffer(sock: socket.socket, intake: Intake) -> None:
    """The kernel's buffer is what absorbs a burst while we decode. Past net.core.rmem_max
    only a privileged process may go (SO_RCVBUFFORCE); say so when we got less."""
    wanted = intake.limits.udp_receive_buffer
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, wanted)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)
    granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2  # Linux reports double
    if granted < wanted:
        log.warning(
            "UDP receive buffer smaller than configured; raise net.core.rmem_max",
            extra={"listener": intake.name, "wanted": wanted, "granted": granted},
        )


async def serve_udp(
    address: ListenAddress, intake: Intake, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        _size_receive_buffer(sock, intake)
        sock.bind((address.host, address.port))
        sock.setblocking(False)
        task_status.started()
        drain = intake.limits.udp_drain_batch
        recv = sock.recv
        while True:
            await trio.lowlevel.wait_readable(sock)
            payloads = []
            for _ in range(drain):
                try:
                    payloads.append(recv(MAX_DATAGRAM))
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:  # e.g. a reported ICMP error; the socket stays usable
                    break
            if payloads:
                joined = b"\n".join(payloads)
                await intake.take(joined.split(b"\n"), size=sum(map(len, payloads)), messages=len(payloads))
            await trio.lowlevel.checkpoint()
    finally:
        sock.close()
