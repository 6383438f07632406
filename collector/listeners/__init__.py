"""Listeners: sockets in, batches of events out to the router."""

from __future__ import annotations

import trio

from .http import serve_http_listener
from .intake import Intake
from .stream import serve_stream
from .udp import serve_udp


async def serve_listener(intake: Intake, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Bind, report started, then serve until cancelled."""
    address = intake.config.address
    if address.scheme == "udp":
        await serve_udp(address, intake, task_status=task_status)
    elif address.scheme == "http":
        await serve_http_listener(address, intake, task_status=task_status)
    else:
        await serve_stream(address, intake, task_status=task_status)


__all__ = ["Intake", "serve_listener"]
