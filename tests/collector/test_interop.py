"""Real clients against the real numbatd: Node's numbat-emitter, the PyPI statsd client,
influxdb-client (its Point lines and its write API) and our own emitter over HTTP."""

from __future__ import annotations

import socket
import time
from collections import Counter

import orjson
import statsd
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

import emitter

from ..emitter.receivers import StreamReceiver
from ..waiting import wait_for
from .node import run_node_emitter, run_node_events
from .numbatd import free_port, wait_for_lines


def test_node_numbat_emitter_over_tcp_udp_and_a_unix_socket(numbatd, node_modules, tmp_path) -> None:
    port = free_port()
    sock_path = tmp_path / "n.sock"
    out = tmp_path / "events.jsonl"
    numbatd(
        f"""
[[listeners]]
url = "tcp://127.0.0.1:{port}"
name = "tcp"
[[listeners]]
url = "udp://127.0.0.1:{port}"
name = "udp"
[[listeners]]
url = "unix://{sock_path}"
name = "unix"
[[sinks]]
type = "jsonl"
path = "{out}"
"""
    )
    count = 2000
    for uri in (f"tcp://127.0.0.1:{port}", f"udp://127.0.0.1:{port}", f"socket:{sock_path}"):
        result = run_node_emitter(node_modules, uri, count)
        assert result.returncode == 0, result.stderr
    events = wait_for_lines(out, 3 * count)
    assert len(events) == 3 * count
    values = Counter(ev["value"] for ev in events)
    assert values == dict.fromkeys(range(count), 3)  # each event once per transport, none twice
    first = events[0]
    assert first["name"] == "nodeapp.m"
    assert (first["node"], first["tag"]) == ("node-1", "x0")
    assert isinstance(first["time"], int)
    assert isinstance(first["host"], str)


def test_pypi_statsd_client(numbatd, tmp_path) -> None:
    port = free_port()
    out = tmp_path / "events.jsonl"
    numbatd(
        f"""
[[listeners]]
url = "udp://127.0.0.1:{port}"
format = "statsd"
[[listeners]]
url = "tcp://127.0.0.1:{port}"
format = "statsd"
[[sinks]]
type = "jsonl"
path = "{out}"
"""
    )
    client = statsd.StatsClient("127.0.0.1", port, prefix="py")
    client.incr("hits", 3)
    client.gauge("temperature", 21.5)
    client.gauge("temperature", -2, delta=True)
    client.timing("latency", 12)
    client.set("users", "alice")
    with client.pipeline() as pipe:  # several metrics in one datagram
        pipe.incr("batched")
        pipe.decr("batched")
    tcp = statsd.TCPStatsClient("127.0.0.1", port, prefix="tcp")
    tcp.incr("over.tcp")
    tcp.close()
    events = wait_for_lines(out, 8)
    got = sorted((e["name"], e["value"], e["statsd_type"], e.get("gauge_delta", False)) for e in events)
    assert got == [
        ("py.batched", -1, "c", False),
        ("py.batched", 1, "c", False),
        ("py.hits", 3, "c", False),
        ("py.latency", 12, "ms", False),
        ("py.temperature", -2, "g", True),
        ("py.temperature", 21.5, "g", False),
        ("py.users", "alice", "s", False),
        ("tcp.over.tcp", 1, "c", False),
    ]


def test_influxdb_client_points_and_write_api(numbatd, tmp_path) -> None:
    tcp_port, http_port = free_port(), free_port()
    out = tmp_path / "events.jsonl"
    numbatd(
        f"""
[[listeners]]
url = "tcp://127.0.0.1:{tcp_port}"
format = "influx"
precision = "ms"
[[listeners]]
url = "udp://127.0.0.1:{tcp_port}"
format = "influx"
[[listeners]]
url = "http://127.0.0.1:{http_port}"
[[sinks]]
type = "jsonl"
path = "{out}"
"""
    )
    stamp = 1_700_000_000_123
    points = [
        Point("requests").tag("app", "web").tag("path", "/a b,c").field("value", i).time(stamp + i, WritePrecision.MS)
        for i in range(50)
    ]
    lines = "\n".join(p.to_line_protocol() for p in points).encode()
    with socket.create_connection(("127.0.0.1", tcp_port)) as tcp:
        tcp.sendall(lines + b"\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(Point("udp").field("value", 1.5).to_line_protocol().encode(), ("127.0.0.1", tcp_port))
    for gzip in (False, True):
        with InfluxDBClient(url=f"http://127.0.0.1:{http_port}", token="t", org="o", enable_gzip=gzip) as client:
            client.write_api(write_options=SYNCHRONOUS).write(
                bucket="b",
                record=[
                    Point("api")
                    .tag("gzip", str(gzip))
                    .field("value", 7)
                    .field("ok", True)
                    .time(stamp, WritePrecision.MS)
                ],
                write_precision=WritePrecision.MS,
            )
    events = wait_for_lines(out, 50 + 1 + 4)
    requests = [e for e in events if e["name"] == "requests"]
    assert sorted(e["value"] for e in requests) == list(range(50))
    assert all(e["path"] == "/a b,c" and e["app"] == "web" for e in requests)
    assert sorted(e["time"] for e in requests) == [stamp + i for i in range(50)]
    assert [e["value"] for e in events if e["name"] == "udp"] == [1.5]
    api = sorted((e["name"], e["value"], e["gzip"], e["time"]) for e in events if e["name"].startswith("api"))
    assert api == [
        ("api", 7, "False", stamp),
        ("api", 7, "True", stamp),
        ("api.ok", True, "False", stamp),
        ("api.ok", True, "True", stamp),
    ]


def test_our_emitters_http_transport(numbatd, tmp_path) -> None:
    port = free_port()
    out = tmp_path / "events.jsonl"
    numbatd(f'[[listeners]]\nurl = "http://127.0.0.1:{port}"\n[[sinks]]\ntype = "jsonl"\npath = "{out}"\n')
    with emitter.Emitter(f"http://127.0.0.1:{port}/events", app="web", batch_size=100) as e:
        for i in range(1000):
            e.metric("hit", i, route="/x")
        assert e.flush(timeout=20)
        assert e.stats().rejected == 0
    events = wait_for_lines(out, 1000)
    assert sorted(ev["value"] for ev in events) == list(range(1000))
    assert {ev["route"] for ev in events} == {"/x"}


#: numbat-emitter's metric() arguments; ours get the same name, value and fields.
SAME_EVENTS = [
    {"name": "requests"},
    {"name": "latency", "value": 31},
    {"name": "latency", "value": 12.5, "status": "ok"},
    {"name": "latency", "value": 13.25, "status": "ok"},
    {"name": "ratio", "value": -0.25, "ok": True, "code": 200},
    {"name": "tiny", "value": 3.5e-7, "where": 'Zürich "q" \\ \n'},
    {"name": "huge", "value": 1e16, "status": "ok"},
    {"name": "nodeapp.prefixed", "value": 0},
    {"name": "requests", "value": 2**53 - 1, "status": "ok"},
]


def test_our_emitter_writes_the_events_numbat_emitter_writes(node_modules) -> None:
    """The same metric() calls through numbat-emitter and ours decode to the same events
    (time aside: each is the moment of its own call)."""
    receiver = StreamReceiver().start()
    try:
        result = run_node_events(node_modules, receiver.uri, orjson.dumps(SAME_EVENTS).decode())
        assert result.returncode == 0, result.stderr
        assert wait_for(lambda: len(receiver.lines) == len(SAME_EVENTS))
        theirs = receiver.events
        before = int(time.time() * 1000)
        with emitter.Emitter(receiver.uri, app="nodeapp", node="node-1") as ours:
            for given in SAME_EVENTS:
                fields = {key: value for key, value in given.items() if key not in ("name", "value")}
                if "value" in given:
                    ours.metric(given["name"], given["value"], **fields)
                else:
                    ours.metric(given["name"], **fields)
        assert wait_for(lambda: len(receiver.lines) == 2 * len(SAME_EVENTS))
        mine = receiver.events[len(SAME_EVENTS) :]
    finally:
        receiver.stop()
    assert all(isinstance(event.pop("time"), int) for event in theirs)
    assert all(before <= event.pop("time") <= time.time() * 1000 for event in mine)
    assert mine == theirs
