"""Every bound on every listener kind, through the real numbatd: line length on UDP and
HTTP, HTTP's read timeout, connection limit and keep-alive idle timeout, and a unix
datagram listener fed by the datadog package's DogStatsD client."""

from __future__ import annotations

import contextlib
import http.client
import socket
import time

import orjson
from datadog.dogstatsd.base import DogStatsd

from ..waiting import wait_for
from .numbatd import closed_by_peer, free_port, read_jsonl, wait_for_lines
from .test_http_listener import post

TOO_LONG = "numbat_listener_rejected_lines_total"


def jsonl_sink(path) -> str:
    return f'\n[[sinks]]\ntype = "jsonl"\npath = "{path}"\nfsync = "never"\n'


def long_event(name: str, size: int) -> bytes:
    return orjson.dumps({"name": name, "pad": "x" * size})


def test_max_line_bytes_holds_on_udp_and_http(numbatd, tmp_path) -> None:
    udp_port, http_port = free_port(), free_port()
    out = tmp_path / "events.jsonl"
    daemon = numbatd(
        f"""
[limits]
max_line_bytes = 100
[[listeners]]
url = "udp://127.0.0.1:{udp_port}"
name = "udp"
[[listeners]]
url = "http://127.0.0.1:{http_port}"
name = "http"
"""
        + jsonl_sink(out)
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(
            b'{"name":"udp.a"}\n' + long_event("udp.long", 1000) + b'\n{"name":"udp.b"}', ("127.0.0.1", udp_port)
        )
        udp.sendto(long_event("udp.alone", 1000), ("127.0.0.1", udp_port))
    status, body = post(
        http_port, "/", b'{"name":"http.a"}\n' + long_event("http.long", 1000) + b'\n{"name":"http.b"}\n'
    )
    assert status == 400
    assert "1 line(s) refused, 2 event(s) kept; first: line too long" in orjson.loads(body)["error"]
    status, body = post(http_port, "/write", b"ok value=1\nlong,pad=" + b"x" * 1000 + b" value=2\n")
    assert status == 400
    assert "1 line(s) refused, 1 event(s) kept" in orjson.loads(body)["error"]
    events = wait_for_lines(out, 5)
    assert sorted(e["name"] for e in events) == ["http.a", "http.b", "ok", "udp.a", "udp.b"]
    assert daemon.metric(TOO_LONG, listener="udp", reason="line too long") == 2
    assert daemon.metric(TOO_LONG, listener="http", reason="line too long") == 2
    assert daemon.stop() == 0


def http_config(port: int, out, limits: str) -> str:
    return f'[[listeners]]\nurl = "http://127.0.0.1:{port}"\nname = "http"\nlimits = {{ {limits} }}\n' + jsonl_sink(out)


def test_trickling_http_clients_are_closed_after_read_timeout(numbatd, tmp_path) -> None:
    port = free_port()
    out = tmp_path / "events.jsonl"
    daemon = numbatd(http_config(port, out, "read_timeout = 1.0, idle_timeout = 30.0, max_connections = 200"))
    heads = [b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", b"POST / HTTP/1.1\r\nHost: x\r\n"]
    slow = []
    for i in range(60):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(heads[i % 2])  # half trickle the body, half the head
        slow.append(sock)
    started = time.monotonic()
    good = 0
    while time.monotonic() - started < 4 and not all(map(closed_by_peer, slow)):
        for sock in slow:
            with contextlib.suppress(OSError):
                sock.send(b"x")
        assert post(port, "/", b'{"name":"good","value":%d}\n' % good)[0] == 204  # served meanwhile
        good += 1
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    assert all(map(closed_by_peer, slow)), "trickling clients still open"
    assert 0.8 < elapsed < 3.5
    assert daemon.metric("numbat_listener_read_timeouts_total", listener="http") == 60
    assert len(wait_for_lines(out, good)) == good
    for sock in slow:
        sock.close()
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.stderr()


def test_http_connection_limit_and_keep_alive_idle_timeout(numbatd, tmp_path) -> None:
    port = free_port()
    out = tmp_path / "events.jsonl"
    daemon = numbatd(http_config(port, out, "max_connections = 3, idle_timeout = 1.0"))
    kept = [http.client.HTTPConnection("127.0.0.1", port, timeout=5) for _ in range(3)]
    for i, connection in enumerate(kept):
        connection.request("POST", "/", body=b'{"name":"kept","value":%d}\n' % i)
        assert connection.getresponse().read() == b""
    for i, connection in enumerate(kept):  # the same connections again: keep-alive
        connection.request("POST", "/", body=b'{"name":"again","value":%d}\n' % i)
        assert connection.getresponse().status == 204
    assert daemon.metric("numbat_listener_connections", listener="http") == 3
    extra = socket.create_connection(("127.0.0.1", port))
    extra.settimeout(5)
    assert extra.recv(1) == b""  # over max_connections: closed at once
    extra.close()
    refused = "numbat_listener_connections_refused_total"
    assert daemon.metric(refused, listener="http", reason="max_connections") == 1
    socks = [connection.sock for connection in kept]
    assert wait_for(lambda: all(map(closed_by_peer, socks)), 5)  # idle past idle_timeout
    assert daemon.metric("numbat_listener_idle_closed_total", listener="http") == 3
    assert post(port, "/", b'{"name":"after"}\n')[0] == 204  # room again
    assert sorted(e["name"] for e in wait_for_lines(out, 7)) == ["after"] + ["again"] * 3 + ["kept"] * 3
    for connection in kept:
        connection.close()
    assert daemon.stop() == 0


def test_http_header_bound_and_pipelined_keep_alive(numbatd, tmp_path) -> None:
    port = free_port()
    out = tmp_path / "events.jsonl"
    daemon = numbatd(http_config(port, out, "max_header_bytes = 2048"))
    status, _ = post(port, "/", b'{"name":"a"}\n', {"X-Big": "y" * 4000})
    assert status == 431
    with socket.create_connection(("127.0.0.1", port)) as sock:
        body = b'{"name":"p"}\n'
        request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        sock.sendall(request * 3 + b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        sock.settimeout(5)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.count(b"HTTP/1.1 204") == 4
    with socket.create_connection(("127.0.0.1", port)) as sock:  # curl's way with larger bodies
        sock.settimeout(5)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 ")
        sock.sendall(body)
        assert sock.recv(65536).startswith(b"HTTP/1.1 204 ")
    assert answer.count(b"x-influxdb-version: numbatd") == 1
    health = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    for method in ("HEAD", "GET", "HEAD"):  # a HEAD's answer has no body; the connection lives on
        health.request(method, "/health")
        response = health.getresponse()
        assert (response.status, bool(response.read())) == (200, method == "GET")
    health.request("HEAD", "/", headers={"Content-Length": "99999999"})
    assert health.getresponse().status == 413  # refused before reading, and still answered without a body
    health.close()
    assert len(wait_for_lines(out, 4)) == 4
    assert daemon.metric("numbat_listener_http_requests_total", listener="http", status="431") == 1
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.stderr()


def test_dogstatsd_over_a_unix_datagram_socket(numbatd, tmp_path) -> None:
    path = tmp_path / "dsd.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(str(path))
    stale.close()  # a socket file left by an earlier run
    out = tmp_path / "events.jsonl"
    daemon = numbatd(
        f"""
[[listeners]]
url = "unixgram://{path}"
name = "dsd"
format = "statsd"
limits = {{ max_line_bytes = 200 }}
"""
        + jsonl_sink(out)
    )
    # Packed datagrams, and blocking sends: a unix datagram queue holds only
    # net.unix.max_dgram_qlen datagrams (10 by default), past which the client drops.
    client = DogStatsd(
        socket_path=str(path),
        disable_telemetry=True,
        disable_buffering=False,
        socket_timeout=5,
        constant_tags=["env:test"],
    )
    for i in range(100):
        client.increment("page.views", tags=[f"i:{i}"])
    client.gauge("queue.depth", 12.5)
    client.gauge("x" * 300, 1)  # a line past max_line_bytes
    client.flush()
    client.close_socket()
    events = wait_for_lines(out, 101)
    views = [e for e in events if e["name"] == "page.views"]
    assert sorted(int(e["i"]) for e in views) == list(range(100))
    assert all(e["env"] == "test" and e["statsd_type"] == "c" for e in views)
    assert [e["value"] for e in events if e["name"] == "queue.depth"] == [12.5]
    assert daemon.metric(TOO_LONG, listener="dsd", reason="line too long") == 1
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as plain:
        plain.sendto(b"plain.a:1|c\nplain.b:2|g", str(path))
    assert {"plain.a", "plain.b"} <= {e["name"] for e in wait_for_lines(out, 103)}
    assert daemon.stop() == 0
    assert not path.exists()  # unlinked at stop
    assert len(read_jsonl(out)) == 103
