"""numbatd's own endpoint: /metrics (the self-metrics), /healthz (the process answers) and
/readyz (listening, not stopping), an ASGI app served by hypercorn on trio.

It serves operators, not senders, so hypercorn's defaults do: the HTTP listener that
takes events has its own server (listeners/_httpserver.py), since hypercorn can bound
neither its connections nor its request bodies.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from prometheus_client import make_asgi_app

from ._metrics import SelfMetrics

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


async def respond(
    send: Send, status: int, body: bytes = b"", content_type: bytes = b"text/plain", headers: tuple[Any, ...] = ()
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def respond_json(send: Send, status: int, document: object, headers: tuple[Any, ...] = ()) -> None:
    await respond(send, status, orjson.dumps(document), b"application/json", headers)


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class HealthApp:
    """/metrics, /healthz and /readyz; ``ready`` says whether the daemon takes events."""

    def __init__(self, metrics: SelfMetrics, ready: Callable[[], bool]) -> None:
        self._metrics_app = make_asgi_app(metrics.registry)
        self._ready = ready

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        path = scope["path"]
        if path == "/metrics":
            await self._metrics_app(scope, receive, send)
        elif path == "/healthz":
            await respond_json(send, 200, {"status": "ok"})
        elif path == "/readyz":
            ready = self._ready()
            await respond_json(send, 200 if ready else 503, {"ready": ready})
        else:
            await respond(send, 404, b"not found: try /metrics, /healthz or /readyz\n")


async def serve_health(app: App, listen: str, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve ``app`` on ``listen`` (``host:port``, ``[::1]:port``) until cancelled."""
    host, _, port = listen.rpartition(":")
    await serve_http(app, host.strip("[]"), int(port), task_status=task_status)


async def serve_http(
    app: App, host: str, port: int, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    config = HypercornConfig()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")  # ours, so it logs JSON at our level
    config.keep_alive_timeout = 75
    config.graceful_timeout = 1.0

    async def started(*, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        await serve(app, config, task_status=task_status)  # type: ignore[arg-type]

    async with trio.open_nursery() as nursery:
        await nursery.start(started)
        task_status.started()
