"""A small HTTP/1.1 server on h11 and trio, for the HTTP listener.

Not hypercorn: it can neither count connections nor put a deadline on a request body,
so clients trickling bodies a byte at a time could hold its descriptors for good.
Connections are accepted by the stream listener's loop (_accept.py: ``max_connections``,
the fd budget); each is then a loop of request and answer, kept alive, with these bounds:

- ``read_timeout``: a request's head and body must arrive within it, from its first
  byte (on a new connection, from the accept); a trickling client is closed, counted;
- ``idle_timeout``: the wait for the next request on a kept-alive connection, and for a
  client to take our answer;
- ``max_header_bytes``: a longer head gets 431 (h11's ``max_incomplete_event_size``
  bounds a head still arriving; one that came whole in a read is measured);
- ``max_body_bytes``: 413, told from Content-Length before the body is read when it is
  declared. A refused body is not read: we answer, shut our side and discard what
  still comes for at most LINGER_SECONDS and LINGER_BYTES before closing, so the
  client's kernel receives the answer rather than a reset.

What a request means is the handler's business (_http.py): a :class:`Request` in, a
:class:`Response` out. Every answer is counted here by status.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import h11
import orjson
import trio

from ..observe import log
from ._intake import Intake

CHUNK = 64 * 1024
LINGER_SECONDS = 2.0
LINGER_BYTES = 1 << 20
CLIENT_GONE = 499  # nginx's name for a request whose client left before its answer
NO_BODY = frozenset({204, 304})


@dataclass(frozen=True)
class Request:
    method: str
    path: str  #: percent-decoded, without the query
    query: str
    headers: dict[bytes, bytes]  #: lower-case names
    body: bytes


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: bytes = b"text/plain"
    headers: tuple[tuple[bytes, bytes], ...] = ()
    close: bool = False  #: close the connection after this answer

    @classmethod
    def json(cls, status: int, document: object, headers: tuple[tuple[bytes, bytes], ...] = ()) -> Response:
        return cls(status, orjson.dumps(document), b"application/json", headers)

    def closing(self) -> Response:
        return dataclasses.replace(self, close=True)


Handler = Callable[[Request], Awaitable[Response]]


def body_too_large(limit: int) -> Response:
    return Response.json(413, {"error": f"body larger than max_body_bytes ({limit})"})


class _Closed(Exception):
    """The connection is over: the client left or timed out."""


class HttpConnection:
    """One client connection: requests read within their bounds, handled, answered."""

    def __init__(self, stream: trio.SocketStream, handler: Handler, intake: Intake) -> None:
        self.stream = stream
        self.handler = handler
        self.intake = intake
        self.limits = intake.limits
        self.protocol = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_header_bytes)
        self._eof = False
        self._head = False  #: the request being answered is a HEAD: its answer has no body

    async def run(self) -> None:
        deadline = trio.current_time() + self.limits.read_timeout  # the first request's: from the accept
        try:
            while True:
                request = await self._read_within(deadline)
                response = await self._handle(request) if isinstance(request, Request) else request
                await self._answer(response)
                if response.close or self.protocol.our_state is not h11.DONE:
                    if self.protocol.their_state not in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED):
                        await self._linger()
                    return
                self.protocol.start_next_cycle()
                await self._wait_for_next_request()
                deadline = trio.current_time() + self.limits.read_timeout
        except _Closed:
            return

    async def _handle(self, request: Request) -> Response:
        try:
            return await self.handler(request)
        except Exception:  # a handler bug costs this request, not the listener
            log.exception("HTTP handler failed", extra={"listener": self.intake.name, "path": request.path})
            return Response.json(500, {"error": "internal error"}).closing()

    # -- reading -------------------------------------------------------------------------

    async def _read_within(self, deadline: float) -> Request | Response:
        """The next request, or the error answer that refuses it; read by ``deadline``."""
        with trio.move_on_at(deadline):
            try:
                return await self._read_request()
            except h11.RemoteProtocolError as exc:
                if self._eof:  # cut off by the client's leaving
                    self._count(CLIENT_GONE)
                    raise _Closed from None
                if self.protocol.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
                    raise _Closed from None
                status = exc.error_status_hint
                return Response.json(status, {"error": str(exc) or _reason(status).decode()}).closing()
        self.intake.metrics.read_timeouts.labels(self.intake.name).inc()
        if self.protocol.our_state is h11.SEND_RESPONSE:  # the head came: say why, best effort
            with trio.move_on_after(0.1):
                await self._answer(Response.json(408, {"error": "request not received within read_timeout"}))
        raise _Closed

    async def _read_request(self) -> Request | Response:
        self._head = False
        head = await self._next_event()
        if not isinstance(head, h11.Request):
            raise _Closed  # the client closed between requests
        self._head = head.method == b"HEAD"
        if _head_size(head) > self.limits.max_header_bytes:
            limit = self.limits.max_header_bytes
            return Response.json(431, {"error": f"request head larger than max_header_bytes ({limit})"}).closing()
        body = await self._read_body(head)
        if isinstance(body, Response):
            return body
        target, _, query = bytes(head.target).partition(b"?")
        return Request(
            method=head.method.decode("ascii", "replace"),
            path=unquote(target.decode("latin-1")),
            query=query.decode("latin-1"),
            headers={bytes(name): bytes(value) for name, value in head.headers},
            body=body,
        )

    async def _read_body(self, head: h11.Request) -> bytes | Response:
        """The whole body, or the 413 that refuses it."""
        limit = self.limits.max_body_bytes
        declared = dict(head.headers).get(b"content-length")
        if declared is not None and int(declared) > limit:
            return body_too_large(limit).closing()
        if self.protocol.they_are_waiting_for_100_continue:
            await self._send(self.protocol.send(h11.InformationalResponse(status_code=100, headers=[])))
        chunks, size = [], 0
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > limit:
                    return body_too_large(limit).closing()
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            else:  # ConnectionClosed: h11 raises first when a body is cut, but be sure
                raise _Closed

    async def _next_event(self) -> Any:
        while True:
            event = self.protocol.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await self.stream.receive_some(CHUNK)
            self._eof = not data
            self.protocol.receive_data(bytes(data))

    async def _wait_for_next_request(self) -> None:
        """Keep-alive: the next request's first bytes, within ``idle_timeout``."""
        if self.protocol.trailing_data[0]:
            return  # pipelined: already here
        data = None
        with trio.move_on_after(self.limits.idle_timeout):
            data = await self.stream.receive_some(CHUNK)
        if data is None:
            self.intake.metrics.idle_closed.labels(self.intake.name).inc()
            raise _Closed
        if not data:
            raise _Closed
        self.protocol.receive_data(bytes(data))

    # -- answering ---------------------------------------------------------------------------

    async def _answer(self, response: Response) -> None:
        status = response.status
        headers = list(response.headers)
        if status not in NO_BODY:
            headers += [(b"content-type", response.content_type), (b"content-length", b"%d" % len(response.body))]
        if response.close:
            headers.append((b"connection", b"close"))
        protocol = self.protocol
        data = protocol.send(h11.Response(status_code=status, headers=headers, reason=_reason(status)))
        if response.body and not self._head and status not in NO_BODY:
            data += protocol.send(h11.Data(data=response.body))
        data += protocol.send(h11.EndOfMessage())
        self._count(status)
        await self._send(data)

    async def _send(self, data: bytes) -> None:
        with trio.move_on_after(self.limits.idle_timeout) as stuck:
            await self.stream.send_all(data)
        if stuck.cancelled_caught:  # the client takes nothing
            self.intake.metrics.idle_closed.labels(self.intake.name).inc()
            raise _Closed

    async def _linger(self) -> None:
        """Close after our answer without resetting it away: stop sending, then discard
        what the client still sends, for a bounded time and amount."""
        with trio.move_on_after(LINGER_SECONDS):
            await self.stream.send_eof()
            discarded = 0
            while discarded < LINGER_BYTES:
                chunk = await self.stream.receive_some(CHUNK)
                if not chunk:
                    return
                discarded += len(chunk)

    def _count(self, status: int) -> None:
        self.intake.metrics.http_requests.labels(self.intake.name, str(status)).inc()


def _head_size(head: h11.Request) -> int:
    """The size of a request head as sent, near enough: request line and header lines."""
    line = len(head.method) + len(head.target) + len(b"  HTTP/1.1\r\n")
    return line + sum(len(name) + len(value) + 4 for name, value in head.headers) + 2


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""
