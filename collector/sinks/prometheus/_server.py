"""The page's HTTP server: GET (and HEAD) of one path, HTTP/1.1 on h11 and trio, on
numbatd's own event loop.

Not hypercorn, which bounds neither its connections nor the time a request takes to
arrive; not the HTTP listener's server either, which belongs to the listeners (a sink
may not import them: they import the router, which imports the sinks). Its bounds:
``max_connections`` (more are closed at once, counted as ``refused``), ``read_timeout``
(a request, once its first byte came, or from the accept), ``idle_timeout`` (a
kept-alive connection waiting for its next request, or a scraper taking the page).
Requests carry no body worth reading: one past a few KiB is refused (413).

Every answer is counted by status through ``count`` (the sink's self-metrics).
"""

from __future__ import annotations

import errno
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import h11
import trio

from ...observe import log

CHUNK = 64 * 1024
MAX_HEAD = 16 * 1024  #: bytes of a request's head
MAX_BODY = 8 * 1024  #: a GET has no business sending more
RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
REFUSED = "refused"

#: (the scraper accepts gzip) -> (body, content type, whether the body is gzipped)
PageSource = Callable[[bool], Awaitable[tuple[bytes, bytes, bool]]]


@dataclass(frozen=True)
class ServerLimits:
    max_connections: int = 64
    read_timeout: float = 10.0
    idle_timeout: float = 300.0


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes = b""
    content_type: bytes = b"text/plain; charset=utf-8"
    gzipped: bool = False
    close: bool = False


class _Closed(Exception):
    """The connection is over."""


class PageServer:
    def __init__(
        self,
        host: str,
        port: int,
        path: str,
        *,
        page: PageSource,
        limits: ServerLimits,
        count: Callable[[str], None],
    ) -> None:
        self.host, self.port, self.path = host, port, path
        self.page = page
        self.limits = limits
        self.count = count
        self.open_connections = 0
        self._listeners: list[trio.SocketListener] = []

    async def open(self) -> None:
        """Bind the address (raising when it cannot); the port actually bound is ``port``."""
        self._listeners = await trio.open_tcp_listeners(self.port, host=self.host or None)
        self.port = self._listeners[0].socket.getsockname()[1]

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            for listener in self._listeners:
                nursery.start_soon(self._accept, listener, nursery)
            task_status.started()

    async def aclose(self) -> None:
        for listener in self._listeners:
            await listener.aclose()
        self._listeners = []

    async def _accept(self, listener: trio.SocketListener, nursery: trio.Nursery) -> None:
        while True:
            try:
                stream = await listener.accept()
            except trio.ClosedResourceError:
                return
            except OSError as exc:
                if exc.errno not in RESOURCE_ERRORS:
                    raise
                log.warning("page: accept failed; backing off", extra={"error": exc.strerror})
                await trio.sleep(0.1)
                continue
            if self.open_connections >= self.limits.max_connections:
                self.count(REFUSED)
                await trio.aclose_forcefully(stream)
                continue
            self.open_connections += 1
            nursery.start_soon(self._connection, stream)

    async def _connection(self, stream: trio.SocketStream) -> None:
        protocol = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        deadline = trio.current_time() + self.limits.read_timeout  # the first request's: from the accept
        try:
            while True:
                request: h11.Request | _Answer | None = None
                with trio.move_on_at(deadline):
                    request = await self._read(protocol, stream)
                if request is None:
                    return  # it did not arrive within read_timeout
                head = isinstance(request, h11.Request) and request.method == b"HEAD"
                answer = await self._answer(request) if isinstance(request, h11.Request) else request
                if await self._reply(protocol, stream, answer, head):
                    return
                if protocol.our_state is not h11.DONE or protocol.their_state is not h11.DONE:
                    return
                protocol.start_next_cycle()
                await self._wait_for_next(protocol, stream)
                deadline = trio.current_time() + self.limits.read_timeout
        except (_Closed, trio.BrokenResourceError, trio.ClosedResourceError, h11.LocalProtocolError):
            return
        finally:
            self.open_connections -= 1
            await trio.aclose_forcefully(stream)

    async def _read(self, protocol: h11.Connection, stream: trio.SocketStream) -> h11.Request | _Answer:
        """The next request, whole, or the answer that refuses it."""
        try:
            request = await _next_event(protocol, stream)
            if not isinstance(request, h11.Request):
                raise _Closed  # the client closed between requests
            size = 0
            while not isinstance(event := await _next_event(protocol, stream), h11.EndOfMessage):
                if not isinstance(event, h11.Data):
                    raise _Closed
                size += len(event.data)
                if size > MAX_BODY:
                    return _Answer(413, b"a request for the page has no body\n", close=True)
        except h11.RemoteProtocolError as exc:
            if protocol.our_state is not h11.SEND_RESPONSE and protocol.our_state is not h11.IDLE:
                raise _Closed from None
            return _Answer(exc.error_status_hint, f"{exc}\n".encode(), close=True)
        return request

    async def _answer(self, request: h11.Request) -> _Answer:
        target = bytes(request.target).partition(b"?")[0].decode("latin-1")
        if target != self.path:
            return _Answer(404, f"not found: the page is at {self.path}\n".encode())
        if request.method not in (b"GET", b"HEAD"):
            return _Answer(405, b"GET the page\n")
        accepts_gzip = any(
            name.lower() == b"accept-encoding" and b"gzip" in value.lower() for name, value in request.headers
        )
        body, content_type, gzipped = await self.page(accepts_gzip)
        return _Answer(200, body, content_type, gzipped)

    async def _reply(self, protocol: h11.Connection, stream: trio.SocketStream, answer: _Answer, head: bool) -> bool:
        """Send ``answer``; whether the connection ends after it."""
        headers = [(b"content-type", answer.content_type), (b"content-length", b"%d" % len(answer.body))]
        if answer.gzipped:
            headers.append((b"content-encoding", b"gzip"))
        if answer.close:
            headers.append((b"connection", b"close"))
        data = protocol.send(h11.Response(status_code=answer.status, headers=headers))
        self.count(str(answer.status))
        with trio.move_on_after(self.limits.idle_timeout) as stuck:
            await stream.send_all(data)
            if answer.body and not head:
                await stream.send_all(protocol.send(h11.Data(data=answer.body)))
            await stream.send_all(protocol.send(h11.EndOfMessage()))
        return answer.close or stuck.cancelled_caught

    async def _wait_for_next(self, protocol: h11.Connection, stream: trio.SocketStream) -> None:
        """Keep-alive: the next request's first bytes, within ``idle_timeout``."""
        if protocol.trailing_data[0]:
            return  # already here
        data = None
        with trio.move_on_after(self.limits.idle_timeout):
            data = await stream.receive_some(CHUNK)
        if not data:
            raise _Closed
        protocol.receive_data(bytes(data))


async def _next_event(protocol: h11.Connection, stream: trio.SocketStream) -> object:
    while True:
        event = protocol.next_event()
        if event is not h11.NEED_DATA:
            return event
        protocol.receive_data(bytes(await stream.receive_some(CHUNK)))
