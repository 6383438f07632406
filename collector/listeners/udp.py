"""UDP: wait until the socket is readable, then drain it without awaiting per datagram.

An ``await`` per datagram loses about half of them at a sender's full speed on these
machines; draining non-blocking reads loses none (see DESIGN.md).
"""

from __future__ import annotations

import socket

import trio

from ..addresses import ListenAddress
from .intake import Intake

MAX_DATAGRAM = 65_535


async def serve_udp(
    address: ListenAddress, intake: Intake, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, intake.limits.udp_receive_buffer)
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
