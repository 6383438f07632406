"""A small HTTP/1.1 server on h11 and trio, on numbatd's own event loop, for the sinks
that answer requests: the prometheus sink's page and the alerts sink's API.

Not hypercorn, which bounds neither its connections nor the time a request takes to
arrive; not the HTTP listener's server either, which belongs to the listeners (a sink
may not import them: they import the router, which imports the sinks). Its bounds:
``max_connections`` (more are closed at once, counted as ``refused``), ``read_timeout``
(a request, once its first byte came, or from the accept), ``idle_timeout`` (a
kept-alive connection waiting for its next request, or a client slow to read),
``max_body`` (a request's body; past it the request is refused with 413).

What a sink adds is two functions: ``respond``, a whole request to its answer, and
``refuse``, the answer to a request that could not be read, in the sink's own kind of
body (text for the page, JSON for the API). Every answer is counted by its status
through ``count``.
"""

from __future__ import annotations

import dataclasses
import errno
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import h11
import trio

from ..observe import log

CHUNK = 64 * 1024
MAX_HEAD = 16 * 1024  #: bytes of a request's head
RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
REFUSED = "refused"  #: what ``count`` is told of a connection over ``max_connections``


@dataclass(frozen=True)
class ServerLimits:
    max_connections: int = 64
    read_timeout: float = 10.0
    idle_timeout: float = 300.0
    max_body: int = 8 * 1024


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def accepts_gzip(self) -> bool:
        return any(name.lower() == b"accept-encoding" and b"gzip" in value.lower() for name, value in self.headers)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    content_type: bytes = b"text/plain; charset=utf-8"
    gzipped: bool = False
    close: bool = False


#: A whole request to its answer.
Respond = Callable[[Request], Awaitable[Answer]]
#: (status, what was wrong) to the answer that refuses a request: too large, unreadable.
Refuse = Callable[[int, str], Answer]


class _Closed(Exception):
    """The connection is over."""


class SmallServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        name: str,
        respond: Respond,
        refuse: Refuse,
        limits: ServerLimits,
        count: Callable[[str], None] = lambda status: None,
    ) -> None:
        """``name`` says whose server it is in the log."""
        self.host, self.port, self.name = host, port, name
        self.respond, self.refuse = respond, refuse
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
                log.warning(f"{self.name}: accept failed; backing off", extra={"error": exc.strerror})
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
                request: Request | Answer | None = None
                with trio.move_on_at(deadline):
                    request = await self._read(protocol, stream)
                if request is None:
                    return  # it did not arrive within read_timeout
                head = isinstance(request, Request) and request.method == "HEAD"
                answer = await self.respond(request) if isinstance(request, Request) else request
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

    async def _read(self, protocol: h11.Connection, stream: trio.SocketStream) -> Request | Answer:
        """The next request, whole, or the answer that refuses it."""
        try:
            head = await _next_event(protocol, stream)
            if not isinstance(head, h11.Request):
                raise _Closed  # the client closed between requests
            body = bytearray()
            while not isinstance(event := await _next_event(protocol, stream), h11.EndOfMessage):
                if not isinstance(event, h11.Data):
                    raise _Closed
                body += event.data
                if len(body) > self.limits.max_body:
                    return _closing(self.refuse(413, "request body too large"))
        except h11.RemoteProtocolError as exc:
            if protocol.our_state is not h11.SEND_RESPONSE and protocol.our_state is not h11.IDLE:
                raise _Closed from None
            return _closing(self.refuse(exc.error_status_hint, str(exc)))
        return Request(
            head.method.decode("ascii", "replace"),
            bytes(head.target).decode("latin-1"),
            list(head.headers),
            bytes(body),
        )

    async def _reply(self, protocol: h11.Connection, stream: trio.SocketStream, answer: Answer, head: bool) -> bool:
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


def _closing(answer: Answer) -> Answer:
    """A refusal ends its connection: what follows an unread request cannot be trusted."""
    return dataclasses.replace(answer, close=True)


async def _next_event(protocol: h11.Connection, stream: trio.SocketStream) -> object:
    while True:
        event = protocol.next_event()
        if event is not h11.NEED_DATA:
            return event
        protocol.receive_data(bytes(await stream.receive_some(CHUNK)))
