"""Events reach real receivers on 127.0.0.1 over every transport, in order, and the
network can neither block nor crash the caller."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
import trio

import emitter
from emitter import Emitter
from emitter._transports import DatagramTransport, SendFailed
from emitter._uri import parse_uri

from ..waiting import wait_for
from .receivers import DatagramReceiver, StreamReceiver


def names(events: list[dict]) -> list[str]:
    return [e["name"] for e in events]


def values(events: list[dict]) -> list[object]:
    return [e["value"] for e in events]


@pytest.mark.parametrize("kind", ["tcp", "unix", "socket"])
def test_stream_transports_deliver_every_event_in_order(kind, tcp_receiver, unix_receiver, make_emitter) -> None:
    receiver = tcp_receiver if kind == "tcp" else unix_receiver
    uri = receiver.uri if kind != "socket" else f"socket:{unix_receiver.address}"
    e = make_emitter(uri, node="node-1")
    for i in range(5000):
        e.metric("test", i, status="ok")
    assert wait_for(lambda: len(receiver.lines) == 5000)
    assert values(receiver.events) == list(range(5000))
    first = receiver.events[0]
    assert first["name"] == "testapp.test"
    assert (first["node"], first["host"], first["status"]) == ("node-1", socket.gethostname(), "ok")
    stats = e.stats()
    assert (stats.sent, stats.lost, stats.connects) == (5000, 0, 1)
    assert stats.batches < 5000 / 10  # written in large chunks, not line by line


def test_events_written_before_the_collector_is_up_arrive_in_order(make_emitter) -> None:
    receiver = StreamReceiver()
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    receiver.address = probe.getsockname()
    probe.close()  # a free port, with nothing listening on it yet
    e = make_emitter(receiver.uri)
    e.metric("splort", 4)
    e.metric("latency", 30)
    assert wait_for(lambda: e.stats().connect_failures >= 2)
    receiver.start()
    try:
        assert wait_for(lambda: len(receiver.lines) == 2)
        assert names(receiver.events) == ["testapp.splort", "testapp.latency"]
    finally:
        receiver.stop()


def test_a_collector_restart_keeps_the_backlog_in_order_and_counts_the_overflow(tcp_receiver, make_emitter) -> None:
    backlog, batch = 50, 10
    e = make_emitter(tcp_receiver.uri, max_backlog=backlog, batch_size=batch)
    for i in range(10):
        e.metric("before", i)
    assert wait_for(lambda: len(tcp_receiver.lines) == 10)

    tcp_receiver.stop()
    total = 300
    for i in range(total):
        e.metric("during", i)
    assert wait_for(lambda: e.stats().send_errors >= 1 and e.stats().connect_failures >= 1)
    stats = e.stats()
    assert stats.dropped > 0
    assert stats.queued + stats.in_flight == total - stats.dropped
    assert stats.queued <= backlog
    assert stats.in_flight <= batch

    tcp_receiver.start()
    assert wait_for(lambda: len(tcp_receiver.lines) == 10 + total - stats.dropped)
    during = [ev["value"] for ev in tcp_receiver.events[10:]]
    assert during == sorted(during), "delivered out of order"
    assert during[-backlog:] == list(range(total - backlog, total)), "the newest events must survive"
    assert len(set(during)) == len(during), "delivered twice"
    final = e.stats()
    assert final.dropped == stats.dropped
    assert final.sent == 10 + len(during)


def test_udp_packs_many_events_into_datagrams_within_the_size(udp_receiver, make_emitter) -> None:
    e = make_emitter(udp_receiver.uri(), datagram_size=512)
    for i in range(2000):
        e.metric("packed", i, tag="x" * (i % 40))
    assert e.flush()
    assert wait_for(lambda: len(udp_receiver.lines) == 2000)
    assert values(udp_receiver.events) == list(range(2000))
    assert [ev["tag"] for ev in udp_receiver.events] == ["x" * (i % 40) for i in range(2000)]
    datagrams = list(udp_receiver.datagrams)
    assert len(datagrams) < 2000 / 4
    for datagram in datagrams:
        assert len(datagram) <= 512
        assert datagram.endswith(b"\n")
        for line in datagram[:-1].split(b"\n"):
            orjson.loads(line)


def test_udp_over_ipv6_loopback(make_emitter) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        receiver = DatagramReceiver("::1")
    except OSError:
        pytest.skip("::1 is not configured")
    try:
        e = make_emitter(receiver.uri())
        e.metric("six", 6)
        assert wait_for(lambda: len(receiver.events) == 1)
        assert receiver.events[0]["value"] == 6
    finally:
        receiver.stop()


def test_statsd_sends_translated_lines(udp_receiver, make_emitter) -> None:
    e = make_emitter(udp_receiver.uri("statsd"), host="web-1")
    e.metric("hits")
    e.metric("latency", timing=12)
    e.metric("temperature", 21.5, room="lab")
    e.metric({"name": "jobs", "count": 3, "rate": 0.5})
    assert wait_for(lambda: len(udp_receiver.lines) == 4)
    assert [line.decode() for line in udp_receiver.lines] == [
        "testapp.hits:1|c|#host:web-1",
        "testapp.latency:12|ms|#host:web-1",
        "testapp.temperature:21.5|g|#host:web-1,room:lab",
        "testapp.jobs:3|c|@0.5|#host:web-1",
    ]
    assert all(not d.endswith(b"\n") for d in udp_receiver.datagrams)


def test_http_posts_ndjson_batches(http_receiver, make_emitter) -> None:
    e = make_emitter(f"http://user:secret@127.0.0.1:{http_receiver.port}/events", batch_size=100)
    for i in range(1000):
        e.metric("posted", i)
    assert wait_for(lambda: len(http_receiver.events) == 1000)
    assert values(http_receiver.events) == list(range(1000))
    method, path, headers = http_receiver.requests[0]
    assert (method, path) == ("POST", "/events")
    assert headers["Content-Type"] == "application/x-ndjson"
    assert headers["Authorization"] == "Basic dXNlcjpzZWNyZXQ="
    assert len(http_receiver.requests) >= 10  # at most batch_size events per POST


def test_http_retries_server_errors_and_counts_rejections(http_receiver, make_emitter) -> None:
    e = make_emitter(f"http://127.0.0.1:{http_receiver.port}/")
    http_receiver.answers = [503, 500]
    e.metric("retried", 1)
    assert wait_for(lambda: len(http_receiver.events) == 1)
    assert e.stats().send_errors == 2
    http_receiver.answers = [400]
    e.metric("refused", 2)
    assert wait_for(lambda: e.stats().rejected == 1)
    e.metric("after", 3)
    assert wait_for(lambda: len(http_receiver.events) == 2)
    assert names(http_receiver.events) == ["testapp.retried", "testapp.after"]
    assert "400" in e.stats().last_error


def test_a_stuck_collector_never_blocks_the_caller(make_emitter) -> None:
    # Accepts the connection and never reads: the kernel buffers fill, sends stall.
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        e = make_emitter(f"tcp://127.0.0.1:{listener.getsockname()[1]}", max_backlog=1000, send_timeout=30)
        padding = "x" * 500
        started = time.monotonic()
        for i in range(50_000):
            e.metric("stuck", i, padding=padding)
        elapsed = time.monotonic() - started
        # A caller blocked on the socket would wait send_timeout (30 s) or forever.
        assert elapsed < 10
        stats = e.stats()
        assert stats.queued <= 1000
        assert stats.dropped > 0
    finally:
        listener.close()


def test_unencodable_fields_never_raise_into_the_caller(tcp_receiver, make_emitter) -> None:
    e = make_emitter(tcp_receiver.uri)
    e.metric("good", 1)
    e.metric("bad", 2, thing=object())
    e.metric("good", 3)
    assert wait_for(lambda: len(tcp_receiver.lines) == 2)
    assert [ev["value"] for ev in tcp_receiver.events] == [1, 3]
    assert e.stats().unencodable == 1


def test_events_without_a_name_are_counted_not_raised(tcp_receiver, make_emitter) -> None:
    e = make_emitter(tcp_receiver.uri)
    e.metric({"foo": "bar"})
    e.metric("")
    e.metric(None)  # type: ignore[arg-type]
    e.metric("named")
    assert wait_for(lambda: len(tcp_receiver.lines) == 1)
    assert e.stats().invalid == 3
    assert names(tcp_receiver.events) == ["testapp.named"]


def test_the_callers_dict_is_copied_and_never_mutated(tcp_receiver, make_emitter) -> None:
    e = make_emitter(tcp_receiver.uri)
    given = {"name": "latency", "value": 30, "status": "ok"}
    e.metric(given)
    snapshot = dict(given)
    given["value"] = 99  # changed after the call: the queued event keeps what it was given
    assert wait_for(lambda: len(tcp_receiver.lines) == 1)
    assert snapshot == {"name": "latency", "value": 30, "status": "ok"}
    event = tcp_receiver.events[0]
    assert (event["name"], event["value"], event["status"]) == ("testapp.latency", 30, "ok")


def test_close_is_idempotent_and_flushes(tcp_receiver) -> None:
    e = Emitter(tcp_receiver.uri, app="testapp")
    for i in range(100):
        e.metric("closing", i)
    assert e.close(timeout=5) is True
    assert e.close() is True
    e.destroy()
    assert e.closed
    e.metric("late")
    assert e.stats().dropped == 1
    assert wait_for(lambda: len(tcp_receiver.lines) == 100)


def test_close_gives_up_after_its_timeout_and_counts_what_was_left() -> None:
    e = Emitter("tcp://127.0.0.1:9", app="testapp", backoff_base=0.01, backoff_cap=0.05)  # discard port: refused
    for i in range(5):
        e.metric("nowhere", i)
    started = time.monotonic()
    assert e.close(timeout=0.3) is False
    assert time.monotonic() - started < 2
    assert e.stats().unsent_at_close == 5
    assert e.stats().lost == 5


def test_a_close_with_the_collector_down_backs_off_between_attempts() -> None:
    """Flushing at close retries with the backoff, as before it: it does not spin."""
    e = Emitter("tcp://127.0.0.1:9", app="testapp", backoff_base=0.05, backoff_cap=0.1)
    e.metric("nowhere")
    assert e.close(timeout=0.5) is False
    assert e.stats().connect_failures <= 20  # about 0.5 / 0.05..0.1, plus the first


def test_context_manager_closes(tcp_receiver) -> None:
    with Emitter(tcp_receiver.uri, app="testapp") as e:
        e.metric("scoped")
    assert e.closed
    assert wait_for(lambda: len(tcp_receiver.lines) == 1)


def test_the_global_emitter_routes_module_level_metrics(tcp_receiver, make_emitter) -> None:
    assert emitter.get_global() is None
    assert emitter.metric("nowhere") is None  # no global set: a no-op
    e = make_emitter(tcp_receiver.uri)
    emitter.set_global(e)
    assert emitter.get_global() is e
    emitter.metric("globally", 7, via="module")
    with emitter.timer("timed.globally"):
        pass
    assert wait_for(lambda: len(tcp_receiver.lines) == 2)
    assert names(tcp_receiver.events) == ["testapp.globally", "testapp.timed.globally"]
    e.close()
    assert emitter.get_global() is None  # a closed emitter is no longer global


def test_timer_as_context_manager_and_decorator(tcp_receiver, make_emitter) -> None:
    e = make_emitter(tcp_receiver.uri)

    with e.timer("block", kind="cm"):
        time.sleep(0.02)

    @e.timer("function")
    def work(x: int) -> int:
        return x * 2

    @e.timer("failing")
    def fail() -> None:
        raise KeyError("boom")

    @e.timer("coroutine")
    async def awork() -> str:
        await asyncio.sleep(0.01)
        return "done"

    assert work(21) == 42
    with pytest.raises(KeyError):
        fail()
    assert asyncio.run(awork()) == "done"
    assert wait_for(lambda: len(tcp_receiver.lines) == 4)
    block, function, failing, coroutine = tcp_receiver.events
    assert block["name"] == "testapp.block"
    assert block["kind"] == "cm"
    assert block["value"] >= 20
    assert function["name"] == "testapp.function"
    assert "error" not in function
    assert failing["error"] == "KeyError"
    assert coroutine["value"] >= 10


def test_usable_from_asyncio_and_trio(tcp_receiver, make_emitter) -> None:
    e = make_emitter(tcp_receiver.uri)

    async def from_asyncio() -> None:
        for i in range(100):
            e.metric("asyncio", i)
            await asyncio.sleep(0)

    async def from_trio() -> None:
        async with trio.open_nursery() as nursery:
            for task in range(4):
                nursery.start_soon(trio_task, task)

    async def trio_task(task: int) -> None:
        for i in range(25):
            e.metric("trio", i, task=task)
            await trio.sleep(0)

    asyncio.run(from_asyncio())
    trio.run(from_trio)
    assert wait_for(lambda: len(tcp_receiver.lines) == 200)
    assert names(tcp_receiver.events).count("testapp.trio") == 100


def test_unknown_settings_and_bad_bounds_fail_at_construction() -> None:
    with pytest.raises(TypeError, match="max_backlogg"):
        Emitter("udp://127.0.0.1:3333", app="x", max_backlogg=5)
    with pytest.raises(ValueError, match="max_backlog must be a positive integer"):
        Emitter("udp://127.0.0.1:3333", app="x", max_backlog=0)
    with pytest.raises(ValueError, match="datagram_size"):
        Emitter("udp://127.0.0.1:3333", app="x", datagram_size=70_000)
    with pytest.raises(ValueError, match="app must be"):
        Emitter("udp://127.0.0.1:3333", app="")
    with pytest.raises(emitter.InvalidURI, match="unsupported destination uri"):
        Emitter("ws://127.0.0.1:3333", app="x")


def test_construction_records_options_and_defaults(make_emitter) -> None:
    e = make_emitter("tcp://localhost:4333", node="node-1")
    assert (e.destination.host, e.destination.port) == ("localhost", 4333)
    assert e.app == "testapp"
    assert e.defaults == {"host": socket.gethostname(), "node": "node-1"}
    assert "testapp" in repr(e)


def test_unpacked_udp_sends_one_event_per_datagram_like_node(udp_receiver, make_emitter) -> None:
    e = make_emitter(udp_receiver.uri(), pack_datagrams=False)
    for i in range(50):
        e.metric("single", i)
    assert wait_for(lambda: len(udp_receiver.datagrams) == 50)
    # The Node numbat-collector runs JSON.parse on each datagram: each must be one document.
    assert [orjson.loads(d)["value"] for d in udp_receiver.datagrams] == list(range(50))


def test_a_mapping_is_copied_so_its_own_methods_never_run_on_the_sender(tcp_receiver, make_emitter) -> None:
    class Hostile(dict):
        def get(self, *args: object) -> object:
            raise RuntimeError("no")

    e = make_emitter(tcp_receiver.uri)
    e.metric(Hostile(name="x"))  # copied with dict(), so the hostile get() is never called
    e.metric("after", 1)
    assert wait_for(lambda: len(tcp_receiver.lines) == 2)
    assert names(tcp_receiver.events) == ["testapp.x", "testapp.after"]
    assert e.stats().internal_errors == 0


def _full_datagram_transport(tmp_path, send_timeout: float) -> tuple[DatagramTransport, socket.socket]:
    """A datagram transport to a unix datagram socket nobody reads: its queue fills, and
    the transport's non-blocking sendto() finds no room (a UDP socket on loopback never does)."""
    path = str(tmp_path / "full.sock")
    reader = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    reader.bind(path)
    transport = DatagramTransport(parse_uri("udp://127.0.0.1:9"), 64, send_timeout)
    transport._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    transport._sock.setblocking(False)
    transport._address = path  # type: ignore[assignment]
    return transport, reader


def test_a_full_send_buffer_paces_the_datagrams_instead_of_losing_them(tmp_path) -> None:
    transport, reader = _full_datagram_transport(tmp_path, send_timeout=5.0)
    data = b"".join(b"%05d\n" % i for i in range(2000))  # 190 datagrams of 64 bytes: more than the queue holds
    received: list[bytes] = []

    def read_later() -> None:
        time.sleep(0.3)  # the sender is waiting for room by now
        reader.settimeout(1.0)
        while sum(map(len, received)) < len(data):
            received.append(reader.recv(64))

    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        reading = pool.submit(read_later)
        assert transport.send(data) == 0
        reading.result(timeout=10)
    assert time.monotonic() - started >= 0.3  # it waited for the reader
    assert b"".join(received) == data  # every datagram, in order
    assert all(datagram.endswith(b"\n") for datagram in received)
    transport.close()
    reader.close()


def test_a_send_buffer_full_for_send_timeout_fails_from_the_first_undelivered_line(tmp_path) -> None:
    transport, reader = _full_datagram_transport(tmp_path, send_timeout=0.3)
    data = b"".join(b"%05d\n" % i for i in range(2000))
    started = time.monotonic()
    with pytest.raises(SendFailed) as failure:
        transport.send(data)
    assert 0.3 <= time.monotonic() - started < 3
    reader.setblocking(False)
    delivered = []
    with contextlib.suppress(BlockingIOError):
        while True:
            delivered.append(reader.recv(64))
    # Whole datagrams were delivered, and the retry resumes at the first line that was not.
    assert 0 < failure.value.resume_at == len(b"".join(delivered)) < len(data)
    assert data[: failure.value.resume_at] == b"".join(delivered)
    transport.close()
    reader.close()
