"""HTTP: POSTs of newline-delimited events, and InfluxDB's write endpoints, so that
influxdb-client or Telegraf can write to numbatd as if it were InfluxDB.

``POST /write`` (1.x) and ``POST /api/v2/write`` (2.x) take line protocol with a
``precision`` parameter; any other ``POST`` takes the listener's own format (numbat
JSON by default). Bodies may be gzip-compressed. 204 on success; 400 naming the
reason when lines were refused (the good lines of the body are kept); 413 past
``max_body_bytes``. ``/ping`` and ``/health`` answer as InfluxDB does, for clients
that check them first.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import trio

from ..addresses import ListenAddress
from ..asgi import (
    BodyTooLarge,
    ClientGone,
    Receive,
    Scope,
    Send,
    gunzip,
    header,
    lifespan,
    read_body,
    respond,
    respond_json,
    serve_http,
)
from ..decoders import InfluxDecoder
from ..decoders.base import TO_MS
from .intake import Intake

INFLUX_PATHS = frozenset({"/write", "/api/v2/write"})
VERSION_HEADER = ((b"x-influxdb-version", b"numbatd"),)


class HttpIntake:
    """The ASGI application of one HTTP listener."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self._influx = {precision: InfluxDecoder(precision) for precision in TO_MS}
        self._requests = intake.metrics.http_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        status = await self._handle(scope, receive, send)
        self._requests.labels(self.intake.name, str(status)).inc()

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> int:
        path, method = scope["path"], scope["method"]
        if path in ("/ping", "/health") and method in ("GET", "HEAD"):
            if path == "/ping":
                await respond(send, 204, headers=VERSION_HEADER)
                return 204
            await respond_json(send, 200, {"name": "numbatd", "status": "pass", "message": "ready for writes"})
            return 200
        if method != "POST":
            await respond_json(send, 405, {"error": f"{method} is not allowed; POST events"})
            return 405
        limit = self.intake.limits.max_body_bytes
        try:
            body = await read_body(receive, limit)
            if header(scope, b"content-encoding").lower() == "gzip":
                body = gunzip(body, limit)
        except ClientGone:
            return 499
        except BodyTooLarge:
            await respond_json(send, 413, {"error": f"body larger than max_body_bytes ({limit})"})
            return 413
        except ValueError as exc:
            await respond_json(send, 400, {"error": str(exc)})
            return 400
        influx = path in INFLUX_PATHS
        if influx:
            params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            precision = params.get("precision", ["ns"])[0]
            decoder = self._influx.get(precision)
            if decoder is None:
                await respond_json(send, 400, _error(path, f"unknown precision {precision!r}"))
                return 400
        else:
            decoder = None
        batch = self.intake.decode(body.split(b"\n"), size=len(body), decoder=decoder)
        await self.intake.router.publish(batch)
        if batch.rejections:
            first = batch.rejections[0]
            message = (
                f"{len(batch.rejections)} line(s) refused, {len(batch.events)} event(s) kept; "
                f"first: {first.reason}: {first.sample[:100]!r}"
            )
            await respond_json(send, 400, _error(path, message))
            return 400
        await respond(send, 204, headers=VERSION_HEADER if influx else ())
        return 204


def _error(path: str, message: str) -> dict[str, str]:
    """The error document in the shape the InfluxDB client of that endpoint expects."""
    if path == "/api/v2/write":
        return {"code": "invalid", "message": message}
    return {"error": message}


async def serve_http_listener(
    address: ListenAddress, intake: Intake, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    await serve_http(HttpIntake(intake), address.host, address.port, task_status=task_status)
