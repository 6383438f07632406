"""A small HTTP/1.1 client on trio (h11), for POSTs to a store from the daemon's own thread.

A request handed to a worker thread waits for that thread to be scheduled and to take
the GIL from a busy event loop, each time, while the store sits idle; a request on the
event loop starts as soon as its body is ready. Connections are kept alive, at most
``max_connections`` of them.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h11
import trio


class RequestFailed(Exception):
    """No answer: the connection failed, broke or timed out."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    #: Header names in lower case, values as sent (the last one of a repeated name).
    headers: dict[str, str] = field(default_factory=dict)


class _Connection:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.protocol = h11.Connection(h11.CLIENT)

    async def exchange(self, request: h11.Request, body: bytes) -> Response:
        protocol = self.protocol
        await self.stream.send_all(
            protocol.send(request) + protocol.send(h11.Data(data=body)) + protocol.send(h11.EndOfMessage())
        )
        status, parts, headers = 0, [], {}
        while True:
            event = protocol.next_event()
            if event is h11.NEED_DATA:
                protocol.receive_data(bytes(await self.stream.receive_some(65536)))
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = {
                    bytes(name).decode("latin-1"): bytes(value).decode("latin-1") for name, value in event.headers
                }
            elif isinstance(event, h11.Data):
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return Response(status, b"".join(parts), headers)
            elif isinstance(event, h11.ConnectionClosed):
                raise RequestFailed("the server closed the connection before it answered")

    @property
    def reusable(self) -> bool:
        if self.protocol.our_state is h11.DONE and self.protocol.their_state is h11.DONE:
            self.protocol.start_next_cycle()
            return True
        return False


def _refused(exc: BaseException) -> bool:
    """Was the connection refused? trio says "all attempts failed" and keeps why beneath."""
    if isinstance(exc, ConnectionRefusedError):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(map(_refused, exc.exceptions))
    return exc.__cause__ is not None and _refused(exc.__cause__)


class HttpClient:
    """POSTs to one origin (``http://`` or ``https://`` host and port)."""

    def __init__(self, url: str, *, timeout: float, max_connections: int) -> None:
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.https else 80)
        self.authority = parts.netloc.rpartition("@")[2]
        self.timeout = timeout
        self.max_connections = max_connections
        self._idle: list[_Connection] = []
        self._ssl = ssl.create_default_context() if self.https else None

    async def post(self, target: str, body: bytes, headers: list[tuple[str, str]]) -> Response:
        """The store's answer; RequestFailed when there is none."""
        request = h11.Request(
            method="POST",
            target=target,
            headers=[("Host", self.authority), ("Content-Length", str(len(body))), *headers],
        )
        connection = None
        try:
            with trio.fail_after(self.timeout):
                connection = self._idle.pop() if self._idle else await self._connect()
                response = await connection.exchange(request, body)
        except (OSError, trio.BrokenResourceError, trio.TooSlowError, h11.ProtocolError) as exc:
            if connection is not None:
                await trio.aclose_forcefully(connection.stream)
            raise RequestFailed(self._describe(exc)) from None
        except BaseException:  # cancelled mid-request: the connection is in an unknown state
            if connection is not None:
                await trio.aclose_forcefully(connection.stream)
            raise
        if connection.reusable and len(self._idle) < self.max_connections:
            self._idle.append(connection)
        else:
            await trio.aclose_forcefully(connection.stream)
        return response

    def _describe(self, exc: BaseException) -> str:
        """What went wrong, in an operator's words (h11's own messages speak of its states)."""
        where = f"{self.host}:{self.port}"
        if isinstance(exc, trio.TooSlowError):
            return f"no answer from {where} within {self.timeout:g} s"
        if _refused(exc):
            return f"connection refused by {where}"
        if isinstance(exc, OSError):
            return f"{where}: {exc.strerror or exc}"
        return f"the connection to {where} broke before the answer"

    async def _connect(self) -> _Connection:
        stream: trio.abc.Stream
        if self._ssl is not None:
            stream = await trio.open_ssl_over_tcp_stream(self.host, self.port, ssl_context=self._ssl)
        else:
            stream = await trio.open_tcp_stream(self.host, self.port)
        return _Connection(stream)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await trio.aclose_forcefully(connection.stream)
