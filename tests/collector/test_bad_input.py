"""The real numbatd fed what real clients and careless ones send: a value no sink could
carry, lenient numbers, DogStatsD's packed values, events and service checks, Influx-style
statsd tags. Each bad line is refused and counted by reason; nothing beside it is lost,
in any sink."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import orjson
from datadog.dogstatsd import DogStatsd

from ..emitter.receivers import StreamReceiver
from ..waiting import wait_for
from .node import run_node
from .numbatd import free_port, wait_for_lines

NS_TIMESTAMP = 1_700_000_000_000_000_000


def post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {}
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())


def send_udp(port: int, payload: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(payload, ("127.0.0.1", port))


def send_tcp(port: int, payload: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port)) as tcp:
        tcp.sendall(payload)


def test_a_value_no_sink_can_carry_is_refused_and_loses_nothing_beside_it(numbatd, tmp_path) -> None:
    statsd_port, numbat_port, graphite_port, http_port = free_port(), free_port(), free_port(), free_port()
    out = tmp_path / "events.jsonl"
    peer = StreamReceiver().start()
    try:
        daemon = numbatd(
            f"""
[[listeners]]
url = "udp://127.0.0.1:{statsd_port}"
format = "statsd"
name = "statsd"
[[listeners]]
url = "tcp://127.0.0.1:{numbat_port}"
name = "numbat"
[[listeners]]
url = "tcp://127.0.0.1:{graphite_port}"
format = "graphite"
name = "graphite"
[[listeners]]
url = "http://127.0.0.1:{http_port}"
format = "statsd"
name = "http"
[[sinks]]
type = "jsonl"
path = "{out}"
fsync = "never"
[[sinks]]
type = "forward"
url = "{peer.uri}"
"""
        )
        send_udp(
            statsd_port, b"s.good:1|c\ns.big:123456789012345678901234567890|c\ns.good:2|c\ns.far:1|c|T99999999999999"
        )
        deep = b"[" * 300 + b"]" * 300
        send_tcp(
            numbat_port,
            b'{"name":"n.good","value":1,"time":1700000000000}\n'
            b'{"name":"n.far","value":1,"time":1e30}\n'
            b'{"name":"n.deep","x":' + deep + b"}\n"
            b'{"name":"n.null","value":null}\n'
            b'{"name":"n.good2"}\n',
        )
        send_tcp(graphite_port, b"g.good 1 1700000000\ng.far 1 1e300\ng.big 99999999999999999999 1700000000\n")
        status, answer = post(
            f"http://127.0.0.1:{http_port}/write?precision=s",
            f"i.good value=1 1700000000\ni.ns value=1 {NS_TIMESTAMP}\ni.inf value=1e400\ni.good2 value=2".encode(),
        )
        assert status == 400
        assert answer["error"].startswith("2 line(s) refused, 2 event(s) kept; first: time out of range")
        status, answer = post(f"http://127.0.0.1:{http_port}/", b"h.good:1|c\nh.lenient:1_000|c")
        assert (status, answer["error"][:35]) == (400, "1 line(s) refused, 1 event(s) kept;")

        kept = {"s.good", "s.big", "n.good", "n.good2", "g.good", "g.big", "i.good", "i.good2", "h.good"}
        expected = sorted([*kept, "s.good"])
        events = wait_for_lines(out, len(expected))
        assert sorted(e["name"] for e in events) == expected
        assert wait_for(lambda: len(peer.lines) >= len(expected))
        assert sorted(e["name"] for e in peer.events) == expected
        big = next(e for e in events if e["name"] == "s.big")
        assert big["value"] == 1.2345678901234568e29  # a double, as Etsy statsd reads every number

        def rejected(listener: str, reason: str) -> float:
            return daemon.metric("numbat_listener_rejected_lines_total", listener=listener, reason=reason)

        assert rejected("statsd", "time out of range") == 1
        assert rejected("numbat", "time out of range") == 1
        assert rejected("numbat", "nested too deeply to encode") == 1
        assert rejected("numbat", "value is null (NaN or infinite at the sender)") == 1
        assert rejected("graphite", "time out of range") == 1
        assert rejected("http", "time out of range") == 1
        assert rejected("http", "value is not finite") == 1
        assert rejected("http", "value is not a number") == 1
        for sink in ("jsonl", "forward"):
            assert daemon.metric("numbat_sink_written_events_total", sink=sink) == len(expected)
            assert daemon.metric("numbat_sink_dropped_events_total", sink=sink) == 0
        assert daemon.stop() == 0
        assert not [entry for entry in daemon.logs() if entry["level"] == "error"]
    finally:
        peer.stop()


def test_numbers_only_in_each_formats_grammar(numbatd, tmp_path) -> None:
    port = free_port()
    out = tmp_path / "events.jsonl"
    daemon = numbatd(
        f'[[listeners]]\nurl = "udp://127.0.0.1:{port}"\nformat = "statsd"\n'
        f'[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\nformat = "graphite"\n'
        f'[[sinks]]\ntype = "jsonl"\npath = "{out}"\nfsync = "never"\n'
    )
    send_udp(port, "a:1_000|c\nb:\u0663|c\nc:1e3|c\nd:0x10|c\ne:\uff11|ms\nf: 1|c".encode())
    send_tcp(port, "g 1_000 1700000000\nh \u0663 1700000000\ni 2.5 1700000000\nj inf 1700000000\n".encode())
    events = wait_for_lines(out, 2)
    assert sorted((e["name"], e["value"]) for e in events) == [("c", 1000.0), ("i", 2.5)]
    assert daemon.metric("numbat_listener_rejected_lines_total", reason="value is not a number") == 8


def test_dogstatsd_events_service_checks_and_packed_values_from_the_datadog_client(numbatd, tmp_path) -> None:
    port = free_port()
    out = tmp_path / "events.jsonl"
    numbatd(
        f'[[listeners]]\nurl = "udp://127.0.0.1:{port}"\nformat = "statsd"\n'
        f'[[sinks]]\ntype = "jsonl"\npath = "{out}"\nfsync = "never"\n'
    )
    client = DogStatsd(host="127.0.0.1", port=port, disable_telemetry=True, disable_buffering=True)
    client.service_check("db.replication", DogStatsd.CRITICAL, tags=["role:primary"], hostname="db-1", message="lag")
    client.service_check("db.backup", DogStatsd.OK)
    client.event("Deploy finished", "v1.2\nrolled out", alert_type="success", tags=["team:ops"], hostname="web-1")
    client.distribution("latency", 12.5, tags=["env:prod"])
    client.close_socket()
    send_udp(port, b"latency:1:2:3|d|#env:canary")  # DogStatsD 1.1's packed form (the Go and Java clients)
    events = wait_for_lines(out, 7)
    checks = {e["name"]: e for e in events if e.get("statsd_type") == "sc"}
    assert checks["db.replication"]["status"] == "critical"
    assert (checks["db.replication"]["host"], checks["db.replication"]["role"]) == ("db-1", "primary")
    assert checks["db.replication"]["description"] == "lag"
    assert checks["db.backup"]["status"] == "ok"
    (deploy,) = [e for e in events if e.get("statsd_type") == "e"]
    assert (deploy["title"], deploy["description"]) == ("Deploy finished", "v1.2\nrolled out")
    assert (deploy["alert_type"], deploy["host"], deploy["team"]) == ("success", "web-1", "ops")
    latencies = sorted((e["value"], e["env"]) for e in events if e["name"] == "latency")
    assert latencies == [(1, "canary"), (2, "canary"), (3, "canary"), (12.5, "prod")]


#: hot-shots in its Telegraf mode (tags in the name) and its DogStatsD mode (a service check
#: and an event), to PORT (the last argument); exits once every send is acknowledged.
HOT_SHOTS_SCRIPT = r"""
const StatsD = require('hot-shots');
const port = Number(process.argv[process.argv.length - 1]);
const telegraf = new StatsD({ host: '127.0.0.1', port, telegraf: true });
const dog = new StatsD({ host: '127.0.0.1', port });
let pending = 4;
const done = () => { if (--pending === 0) { telegraf.close(); dog.close(); } };
telegraf.increment('requests', 1, { region: 'eu', code: '200' }, done);
telegraf.timing('latency', 42, { region: 'eu' }, done);
dog.check('queue.depth', dog.CHECKS.WARNING, { hostname: 'worker-1', message: 'deep' }, ['queue:mail'], done);
dog.event('Backup done', 'nightly', { alert_type: 'info' }, ['kind:backup'], done);
"""


def test_hot_shots_telegraf_tags_service_checks_and_events(numbatd, hot_shots, tmp_path) -> None:
    port = free_port()
    out = tmp_path / "events.jsonl"
    numbatd(
        f'[[listeners]]\nurl = "udp://127.0.0.1:{port}"\nformat = "statsd"\n'
        f'[[sinks]]\ntype = "jsonl"\npath = "{out}"\nfsync = "never"\n'
    )
    result = run_node(hot_shots, HOT_SHOTS_SCRIPT, str(port))
    assert result.returncode == 0, result.stderr
    events = {e["name"]: e for e in wait_for_lines(out, 4)}
    assert (events["requests"]["region"], events["requests"]["code"], events["requests"]["value"]) == ("eu", "200", 1)
    assert (events["latency"]["statsd_type"], events["latency"]["region"]) == ("ms", "eu")
    check = events["queue.depth"]
    assert (check["status"], check["host"], check["description"], check["queue"]) == (
        "warning",
        "worker-1",
        "deep",
        "mail",
    )
    assert (events["event"]["title"], events["event"]["description"], events["event"]["kind"]) == (
        "Backup done",
        "nightly",
        "backup",
    )
