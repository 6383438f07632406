"""The event loop's HTTP client against small servers on 127.0.0.1 that misbehave on cue."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

import pytest
import trio

from collector.sinks.remote import HttpClient, RequestFailed


def in_trio(test: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    @functools.wraps(test)
    def run() -> None:
        trio.run(test)

    return run


async def serve(nursery: trio.Nursery, handle) -> tuple[int, list[bytes]]:
    """A TCP server running ``handle(stream, requests)`` per connection; its port, and
    the raw bytes each connection received (one entry per connection)."""
    received: list[bytes] = []
    listeners = await nursery.start(
        functools.partial(trio.serve_tcp, lambda stream: handle(stream, received), 0, host="127.0.0.1")
    )
    return listeners[0].socket.getsockname()[1], received


async def read_request(stream: trio.SocketStream) -> bytes:
    """One request whose body is announced by Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = await stream.receive_some(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += await stream.receive_some(65536)
    return data


@in_trio
async def test_answers_come_back_over_one_kept_alive_connection() -> None:
    async def answer(stream: trio.SocketStream, received: list[bytes]) -> None:
        received.append(b"")
        while request := await read_request(stream):
            received[-1] += request
            await stream.send_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nnope!")

    async with trio.open_nursery() as nursery:
        port, received = await serve(nursery, answer)
        client = HttpClient(f"http://127.0.0.1:{port}", timeout=5, max_connections=2)
        for body in (b"a b=1 1", b"c d=2 2"):
            response = await client.post("/write?db=x", body, [("Authorization", "Basic eDp5")])
            assert (response.status, response.body) == (400, b"nope!")
        await client.aclose()
        nursery.cancel_scope.cancel()
    assert len(received) == 1
    assert received[0].count(b"POST /write?db=x HTTP/1.1\r\n") == 2
    assert b"\r\nAuthorization: Basic eDp5\r\n" in received[0]
    assert received[0].endswith(b"c d=2 2")


@in_trio
async def test_a_server_that_never_answers_is_a_failure_after_the_timeout() -> None:
    async def hang(stream: trio.SocketStream, received: list[bytes]) -> None:
        received.append(await read_request(stream))
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        port, _ = await serve(nursery, hang)
        client = HttpClient(f"http://127.0.0.1:{port}", timeout=0.3, max_connections=1)
        with pytest.raises(RequestFailed, match=r"^no answer from 127\.0\.0\.1:\d+ within 0\.3 s$"):
            await client.post("/write", b"x", [])
        nursery.cancel_scope.cancel()


@in_trio
async def test_a_connection_closed_unanswered_fails_and_the_next_request_reconnects() -> None:
    async def close_first(stream: trio.SocketStream, received: list[bytes]) -> None:
        received.append(await read_request(stream))
        if len(received) > 1:
            await stream.send_all(b"HTTP/1.1 204 No Content\r\n\r\n")

    async with trio.open_nursery() as nursery:
        port, received = await serve(nursery, close_first)
        client = HttpClient(f"http://127.0.0.1:{port}", timeout=5, max_connections=1)
        with pytest.raises(RequestFailed, match=r"before it answered|broke before the answer"):
            await client.post("/write", b"x", [])
        assert (await client.post("/write", b"y", [])).status == 204
        nursery.cancel_scope.cancel()
    assert len(received) == 2


@in_trio
async def test_nobody_listening_is_a_failure() -> None:
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        client = HttpClient(f"http://127.0.0.1:{port}", timeout=5, max_connections=1)
        with pytest.raises(RequestFailed, match=f"^connection refused by 127.0.0.1:{port}$"):
            await client.post("/write", b"x", [])
