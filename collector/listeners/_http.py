"""HTTP: POSTs of newline-delimited events, and InfluxDB's write endpoints, so that
influxdb-client or Telegraf can write to numbatd as if it were InfluxDB.

``POST /write`` (1.x) and ``POST /api/v2/write`` (2.x) take line protocol with a
``precision`` parameter; any other ``POST`` takes the listener's own format (numbat
JSON by default). Bodies may be gzip-compressed. 204 on success; 400 naming the
reason when lines were refused (the good lines of the body are kept); 413 past
``max_body_bytes``. ``/ping`` and ``/health`` answer as InfluxDB does, for clients
that check them first.

This module says what a request means; _httpserver.py reads it off the connection
within its bounds and writes the answer, and _accept.py bounds the connections.
"""

from __future__ import annotations

import zlib
from urllib.parse import parse_qs

import trio

from ..config import ListenAddress
from ..wire import decoder_for
from ._accept import serve_connections
from ._httpserver import HttpConnection, Request, Response, body_too_large
from ._intake import Intake
from ._sockets import open_stream_listeners

INFLUX_PATHS = frozenset({"/write", "/api/v2/write"})
VERSION_HEADER = ((b"x-influxdb-version", b"numbatd"),)
READY = {"name": "numbatd", "status": "pass", "message": "ready for writes"}


class BodyTooLarge(Exception):
    pass


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress, refusing to produce more than ``limit`` bytes (no zip bombs)."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ValueError(f"bad gzip body: {exc}") from None
    if len(data) > limit or decompressor.unconsumed_tail:
        raise BodyTooLarge
    return data


class HttpIntake:
    """The requests of one HTTP listener, answered."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake

    async def __call__(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path in ("/ping", "/health") and method in ("GET", "HEAD"):
            if path == "/ping":
                return Response(204, headers=VERSION_HEADER)
            return Response.json(200, READY)
        if method != "POST":
            return Response.json(405, {"error": f"{method} is not allowed; POST events"})
        limit = self.intake.limits.max_body_bytes
        body = request.body
        try:
            if request.headers.get(b"content-encoding", b"").lower() == b"gzip":
                body = gunzip(body, limit)
        except BodyTooLarge:
            return body_too_large(limit)
        except ValueError as exc:
            return Response.json(400, {"error": str(exc)})
        influx = path in INFLUX_PATHS
        decoder = None
        if influx:
            precision = parse_qs(request.query).get("precision", ["ns"])[0]
            try:
                decoder = decoder_for("influx", precision)
            except ValueError:
                return Response.json(400, _error(path, f"unknown precision {precision!r}"))
        batch = self.intake.decode(body.split(b"\n"), size=len(body), decoder=decoder)
        await self.intake.router.publish(batch)
        if batch.rejections:
            first = batch.rejections[0]
            message = (
                f"{len(batch.rejections)} line(s) refused, {len(batch)} event(s) kept; "
                f"first: {first.reason}: {first.sample[:100]!r}"
            )
            return Response.json(400, _error(path, message))
        return Response(204, headers=VERSION_HEADER if influx else ())


def _error(path: str, message: str) -> dict[str, str]:
    """The error document in the shape the InfluxDB client of that endpoint expects."""
    if path == "/api/v2/write":
        return {"code": "invalid", "message": message}
    return {"error": message}


async def serve_http_listener(
    address: ListenAddress, intake: Intake, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    listeners = await open_stream_listeners(address)
    endpoints = HttpIntake(intake)

    async def handle(stream: trio.SocketStream) -> None:
        await HttpConnection(stream, endpoints, intake).run()

    await serve_connections(listeners, intake, handle, task_status=task_status)
