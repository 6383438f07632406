"""Live mode's syslog listener: its bounds (connections, idle timeout, line length), each
counted; IPv6; UDP drained so that a burst at full speed is counted whole. The bounds are
tested in this process, against a handler that records what the listener hands it; IPv6,
the burst and the options through the real command."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

from log_parser._syslog_limits import ListenerLimits
from log_parser.live import listen_syslog, parse_syslog_url
from log_parser.live._syslog import CONNECTIONS_CLOSED_IDLE, CONNECTIONS_REFUSED, LINE_TOO_LONG

from ..waiting import wait_for
from .test_live import log_line, start_live
from .test_live import stored_downloads as stored


class Recorder:
    """A LineHandler that keeps what it is given."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.rejected: Counter[str] = Counter()
        self.events: Counter[str] = Counter()

    async def handle_lines(self, lines: list[bytes]) -> None:
        self.lines += lines

    def refuse_lines(self, reason: str, count: int = 1) -> None:
        self.rejected[reason] += count

    def count_event(self, event: str, count: int = 1) -> None:
        self.events[event] += count


async def until(predicate: Callable[[], bool]) -> None:
    while not predicate():
        await trio.sleep(0.01)


def with_listener(
    url: str, limits: ListenerLimits, body: Callable[[Recorder, int], Awaitable[None]], timeout: float = 20
) -> Recorder:
    """Run the listener of ``url`` (port 0: any free one) while ``body(recorder, port)`` runs."""
    recorder = Recorder()

    async def main() -> None:
        with trio.fail_after(timeout):
            async with trio.open_nursery() as nursery:
                [(_, port), *_] = await nursery.start(listen_syslog(url, limits), recorder)
                await body(recorder, port)
                nursery.cancel_scope.cancel()

    trio.run(main)
    return recorder


async def closed_by_peer(stream: trio.SocketStream) -> bool:
    """Whether the other end closed ``stream`` (it reads end of file, or is reset)."""
    try:
        return await stream.receive_some(100) == b""
    except trio.BrokenResourceError:
        return True


def test_connections_past_the_limit_are_closed_at_once_and_counted() -> None:
    async def body(recorder: Recorder, port: int) -> None:
        first = await trio.open_tcp_stream("127.0.0.1", port)
        second = await trio.open_tcp_stream("127.0.0.1", port)
        await first.send_all(b"one\n")
        await second.send_all(b"two\n")
        await until(lambda: len(recorder.lines) == 2)  # both admitted
        third = await trio.open_tcp_stream("127.0.0.1", port)
        assert await closed_by_peer(third)
        assert recorder.events[CONNECTIONS_REFUSED] == 1
        await first.aclose()  # its place comes free once the listener has read the end
        await trio.testing.wait_all_tasks_blocked(0.1)
        fourth = await trio.open_tcp_stream("127.0.0.1", port)
        await fourth.send_all(b"four\n")
        await second.send_all(b"still two\n")
        await until(lambda: len(recorder.lines) == 4)
        assert recorder.events[CONNECTIONS_REFUSED] == 1
        for stream in (second, third, fourth):
            await stream.aclose()

    recorder = with_listener("tcp://127.0.0.1:0", ListenerLimits(max_connections=2), body)
    assert sorted(recorder.lines) == [b"four", b"one", b"still two", b"two"]


def test_a_connection_idle_past_the_timeout_is_closed_and_counted() -> None:
    async def body(recorder: Recorder, port: int) -> None:
        idle = await trio.open_tcp_stream("127.0.0.1", port)
        talking = await trio.open_tcp_stream("127.0.0.1", port)
        started = trio.current_time()
        for n in range(8):  # 0.8 s of a line every 0.1 s: never idle for 0.3 s
            await talking.send_all(b"line %d\n" % n)
            await trio.sleep(0.1)
        await until(lambda: recorder.events[CONNECTIONS_CLOSED_IDLE] == 1)
        assert await closed_by_peer(idle)
        assert trio.current_time() - started >= 0.3
        await talking.send_all(b"last\n")
        await until(lambda: b"last" in recorder.lines)
        assert recorder.events[CONNECTIONS_CLOSED_IDLE] == 1
        await talking.aclose()
        await idle.aclose()

    recorder = with_listener("tcp://127.0.0.1:0", ListenerLimits(idle_timeout=0.3), body)
    assert recorder.lines == [b"line %d" % n for n in range(8)] + [b"last"]


def test_over_long_lines_are_refused_counted_and_the_lines_beside_them_kept() -> None:
    long_line = b"x" * 101

    async def tcp(recorder: Recorder, port: int) -> None:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(b"before\n" + long_line[:50])  # the long line arrives in pieces
        await stream.send_all(long_line[50:] + b" and more\nafter\n")
        await stream.send_all(b"%d %s" % (len(long_line), long_line) + b"5 fifth")  # octet-counted
        await until(lambda: len(recorder.lines) == 3)
        await stream.aclose()

    recorder = with_listener("tcp://127.0.0.1:0", ListenerLimits(max_line_bytes=100), tcp)
    assert recorder.lines == [b"before", b"after", b"fifth"]
    assert recorder.rejected == {LINE_TOO_LONG: 2}

    async def udp(recorder: Recorder, port: int) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"before\n" + long_line + b"\n" + b"y" * 100, ("127.0.0.1", port))
        await until(lambda: len(recorder.lines) == 2)

    recorder = with_listener("udp://127.0.0.1:0", ListenerLimits(max_line_bytes=100), udp)
    assert recorder.lines == [b"before", b"y" * 100]  # exactly the bound is no refusal
    assert recorder.rejected == {LINE_TOO_LONG: 1}


def test_syslog_urls_take_ipv6_and_refuse_what_is_no_address() -> None:
    assert parse_syslog_url("udp://[::1]:5140") == parse_syslog_url("udp://[::1]:5140")
    address = parse_syslog_url("tcp://[::1]:5140")
    assert (address.transport, address.host, address.port) == ("tcp", "::1", 5140)
    address = parse_syslog_url("udp://127.0.0.1:514")
    assert (address.transport, address.host, address.port) == ("udp", "127.0.0.1", 514)
    for bad in ("http://127.0.0.1:514", "udp://127.0.0.1", "udp://:514", "tcp://[::1]:99999", "tcp://h:514/x", "::1"):
        with pytest.raises(ValueError, match="syslog listener"):
            parse_syslog_url(bad)


def test_listener_limits_refuse_bounds_that_make_no_sense() -> None:
    for bad in ({"max_connections": 0}, {"idle_timeout": 0}, {"idle_timeout": float("nan")}, {"max_line_bytes": 0}):
        with pytest.raises(ValueError, match="must be"):
            ListenerLimits(**bad)  # type: ignore[arg-type]


# -- the real command ----------------------------------------------------------------------


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def free_port(family: socket.AddressFamily, kind: socket.SocketKind) -> int:
    with socket.socket(family, kind) as probe:
        probe.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop(live: subprocess.Popen[bytes]) -> None:
    live.send_signal(signal.SIGTERM)
    assert live.wait(20) == 0, live.stderr.read()  # type: ignore[union-attr]


def line_of(package: str, minute: int = 0) -> bytes:
    return log_line(minute, f"/{package}/-/{package}-1.0.0.tgz").encode()


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback on this host")
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_live_listens_on_ipv6(tmp_path, transport) -> None:
    kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
    port = free_port(socket.AF_INET6, kind)
    db = tmp_path / "d.sqlite"
    live = start_live(
        "--syslog", f"{transport}://[::1]:{port}", "--format", "combined", "--db", str(db), "--flush-interval", "0.1"
    )
    try:

        def sent_and_counted() -> bool:
            try:
                if transport == "udp":
                    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sender:
                        sender.sendto(line_of("probe"), ("::1", port))
                else:
                    with socket.create_connection(("::1", port), timeout=1) as connection:
                        connection.sendall(line_of("probe") + b"\n")
            except OSError:
                return False
            return stored(db, "probe") > 0

        assert wait_for(sent_and_counted, 30)
        assert live.poll() is None
    finally:
        stop(live)


def test_a_udp_burst_at_full_speed_is_counted_whole(tmp_path) -> None:
    """20,000 datagrams from another process as fast as it can send them: the listener
    drains the socket each time it wakes, so none is lost (an await per datagram loses
    most of them)."""
    count = 20_000
    port = free_port(socket.AF_INET, socket.SOCK_DGRAM)
    db = tmp_path / "d.sqlite"
    live = start_live(
        "--syslog", f"udp://127.0.0.1:{port}", "--format", "combined", "--db", str(db), "--flush-interval", "0.2"
    )
    sender = (
        "import socket, sys\n"
        "lines = [bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2])]\n"
        "with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:\n"
        f"    for i in range({count}):\n"
        f"        s.sendto(lines[i % 2], ('127.0.0.1', {port}))\n"
    )
    try:

        def probed() -> bool:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.sendto(line_of("probe"), ("127.0.0.1", port))
            return stored(db, "probe") > 0

        assert wait_for(probed, 30)  # listening, and the format is combined
        burst = [line_of("burst", 1).hex(), line_of("burst", 2).hex()]
        subprocess.run([sys.executable, "-c", sender, *burst], check=True, timeout=60)
        assert wait_for(lambda: stored(db, "burst") == count, 30), stored(db, "burst")
    finally:
        stop(live)
    assert stored(db, "burst") == count


def test_live_refuses_connections_past_max_connections_and_emits_the_count(tmp_path) -> None:
    port = free_port(socket.AF_INET, socket.SOCK_STREAM)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as collector:
        collector.bind(("127.0.0.1", 0))
        collector.settimeout(10)
        live = start_live(
            *("--syslog", f"tcp://127.0.0.1:{port}", "--format", "combined", "--db", str(tmp_path / "d.sqlite")),
            *("--flush-interval", "0.2", "--max-connections", "1"),
            *("--emit-uri", f"udp://127.0.0.1:{collector.getsockname()[1]}"),
        )
        try:
            connections: list[socket.socket] = []

            def connected() -> bool:
                try:
                    connections.append(socket.create_connection(("127.0.0.1", port), timeout=5))
                except OSError:
                    return False
                return True

            assert wait_for(connected, 30)  # the first connection that succeeds takes the one place
            with connections[0] as first:
                first.sendall(line_of("first") + b"\n")
                assert wait_for(lambda: stored(tmp_path / "d.sqlite", "first") == 1, 20)
                with socket.create_connection(("127.0.0.1", port), timeout=5) as second:
                    assert second.recv(100) == b""  # closed at once: the one place is taken
            refused = 0
            while refused == 0:
                for line in collector.recv(65535).splitlines():
                    event = json.loads(line)
                    if event["name"].endswith("input.connections_refused"):
                        refused += event["value"]
            assert refused >= 1
        finally:
            stop(live)


@pytest.mark.parametrize(
    "option",
    [
        ("--max-connections", "0"),
        ("--max-connections", "many"),
        ("--idle-timeout", "0"),
        ("--idle-timeout", "-5"),
        ("--idle-timeout", "nan"),
        ("--max-line-bytes", "0"),
    ],
)
def test_live_refuses_a_bound_that_makes_no_sense(tmp_path, option) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "log_parser",
            "live",
            "--syslog",
            "tcp://127.0.0.1:1",
            "--db",
            str(tmp_path / "d"),
            *option,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert option[0] in result.stderr
    assert not (tmp_path / "d").exists()
