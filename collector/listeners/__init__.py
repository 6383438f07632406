"""Listeners: sockets in, batches of events out to the router.

Every kind goes through the Intake (intake.py: line length, decoding, counting);
connection-oriented ones (tcp, unix, http) through one accept loop (accept.py:
max_connections, the process's fd budget, backoff when descriptors run out).
"""

from __future__ import annotations

import trio

from .http import serve_http_listener
from .intake import Intake
from .stream import serve_stream
from .udp import serve_datagrams

#: The listener kinds whose connections hold a descriptor each, bounded by max_connections.
CONNECTION_SCHEMES = frozenset({"tcp", "unix", "http"})


async def serve_listener(intake: Intake, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Bind, report started, then serve until cancelled."""
    address = intake.config.address
    if address.scheme in ("udp", "unixgram"):
        await serve_datagrams(address, intake, task_status=task_status)
    elif address.scheme == "http":
        await serve_http_listener(address, intake, task_status=task_status)
    else:
        await serve_stream(address, intake, task_status=task_status)


__all__ = ["CONNECTION_SCHEMES", "Intake", "serve_listener"]
