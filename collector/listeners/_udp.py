"""Datagram sockets, UDP and unix (DogStatsD's ``unixgram``): wait until the socket is
readable, then drain it without awaiting per datagram.

An ``await`` per datagram lets the kernel's buffer overflow at a sender's full speed,
and datagrams are lost; draining with non-blocking reads, up to ``udp_drain_batch`` per
wake-up, keeps up (the measurements are in the README). Lines are bounded by the Intake
like every listener's; the kernel's receive buffer by ``udp_receive_buffer``.
"""

from __future__ import annotations

import socket

import trio

from ..config import ListenAddress
from ._intake import Intake
from ._sockets import open_datagram_socket, unlink_socket

MAX_DATAGRAM = 65_535  # a UDP datagram's largest payload; DogStatsD's unix datagrams are 8 KiB


async def serve_datagrams(
    address: ListenAddress, intake: Intake, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    sock = open_datagram_socket(address, intake.limits.udp_receive_buffer, intake.name)
    try:
        task_status.started()
        await _drain_forever(sock, intake)
    finally:
        sock.close()
        if address.scheme == "unixgram":
            unlink_socket(address.path)


async def _drain_forever(sock: socket.socket, intake: Intake) -> None:
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
            await intake.receive_payload(joined, size=sum(map(len, payloads)), messages=len(payloads))
        await trio.lowlevel.checkpoint()
