"""The alerts sink's small JSON API server: HTTP/1.1 on h11 and trio, on numbatd's loop.

Built as the prometheus sink's page server is (a sink may not import the listeners'
server: they import the router, which imports the sinks), with a request body (a
silence, a few hundred bytes; past ``MAX_BODY`` it is refused with 413) and any method,
handed to ``handle``. Its bounds: ``max_connections`` (more are closed at once),
``read_timeout`` (a request, once begun or from the accept), ``idle_timeout`` (a
kept-alive connection waiting for its next request, or a client slow to read).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass

import h11
import trio

from ...observe import log

CHUNK = 64 * 1024
MAX_HEAD = 16 * 1024  #: bytes of a request's head
MAX_BODY = 64 * 1024  #: bytes of a request's body (a silence is a few hundred)
RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
JSON = b"application/json"

#: (method, target, body) -> (status, JSON body). Synchronous: the engine's calls are.
Handler = Callable[[str, str, bytes], tuple[int, bytes]]


@dataclass(frozen=True)
class ApiLimits:
    max_connections: int = 64
    read_timeout: float = 10.0
    idle_timeout: float = 60.0


class _Closed(Exception):
    """The connection is over."""


class ApiServer:
    def __init__(self, host: str, port: int, handle: Handler, limits: ApiLimits) -> None:
        self.host, self.port = host, port
        self.handle = handle
        self.limits = limits
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
                log.warning("alerts API: accept failed; backing off", extra={"error": exc.strerror})
                await trio.sleep(0.1)
                continue
            if self.open_connections >= self.limits.max_connections:
                await trio.aclose_forcefully(stream)
                continue
            self.open_connections += 1
            nursery.start_soon(self._connection, stream)

    async def _connection(self, stream: trio.SocketStream) -> None:
        protocol = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        deadline = trio.current_time() + self.limits.read_timeout
        try:
            while True:
                answer: tuple[int, bytes, bool] | None = None
                with trio.move_on_at(deadline):
                    answer = await self._read_and_answer(protocol, stream)
                if answer is None:
                    return
                status, body, close = answer
                headers = [(b"content-type", JSON), (b"content-length", b"%d" % len(body))]
                if close:
                    headers.append((b"connection", b"close"))
                with trio.move_on_after(self.limits.idle_timeout) as stuck:
                    await stream.send_all(protocol.send(h11.Response(status_code=status, headers=headers)))
                    if body:
                        await stream.send_all(protocol.send(h11.Data(data=body)))
                    await stream.send_all(protocol.send(h11.EndOfMessage()))
                if close or stuck.cancelled_caught:
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

    async def _read_and_answer(self, protocol: h11.Connection, stream: trio.SocketStream) -> tuple[int, bytes, bool]:
        try:
            request = await _next_event(protocol, stream)
            if not isinstance(request, h11.Request):
                raise _Closed
            body = bytearray()
            while not isinstance(event := await _next_event(protocol, stream), h11.EndOfMessage):
                if not isinstance(event, h11.Data):
                    raise _Closed
                body += event.data
                if len(body) > MAX_BODY:
                    return 413, b'{"error": "request body too large"}', True
        except h11.RemoteProtocolError as exc:
            if protocol.our_state is not h11.SEND_RESPONSE and protocol.our_state is not h11.IDLE:
                raise _Closed from None
            return exc.error_status_hint, b'{"error": "bad request"}', True
        method = request.method.decode("ascii", "replace")
        target = bytes(request.target).decode("latin-1")
        status, answer = self.handle(method, target, bytes(body))
        return status, answer, False

    async def _wait_for_next(self, protocol: h11.Connection, stream: trio.SocketStream) -> None:
        if protocol.trailing_data[0]:
            return
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
