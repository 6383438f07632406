"""The real numbatd process: listeners at once, sinks, limits, reload and shutdown."""

from __future__ import annotations

import signal
import socket
import time
from collections import Counter

import orjson

import emitter

from ..emitter.receivers import StreamReceiver
from ..waiting import wait_for
from .numbatd import free_port, read_jsonl, wait_for_lines

FAST = {"backoff_base": 0.01, "backoff_cap": 0.2}


def jsonl_sink(path, name: str = "file", extra: str = "") -> str:
    return f'\n[[sinks]]\ntype = "jsonl"\nname = "{name}"\npath = "{path}"\nfsync = "never"\n{extra}\n'


def test_udp_tcp_and_unix_at_once_into_jsonl_exactly_once(numbatd, tmp_path) -> None:
    port = free_port()
    sock_path = tmp_path / "numbat.sock"
    out = tmp_path / "events.jsonl"
    daemon = numbatd(
        f"""
[[listeners]]
url = "udp://127.0.0.1:{port}"
[[listeners]]
url = "tcp://127.0.0.1:{port}"
[[listeners]]
url = "unix://{sock_path}"
"""
        + jsonl_sink(out)
    )
    count = 3000
    emitters = {
        "udp": emitter.Emitter(f"udp://127.0.0.1:{port}", app="e2e", node="n1", **FAST),
        "tcp": emitter.Emitter(f"tcp://127.0.0.1:{port}", app="e2e", node="n1", **FAST),
        "unix": emitter.Emitter(f"unix://{sock_path}", app="e2e", node="n1", **FAST),
    }
    for i in range(count):
        for transport, e in emitters.items():
            e.metric(transport, i, status="ok", ratio=i / 7, flag=i % 2 == 0, note=f"é {i}")
    for e in emitters.values():
        assert e.close(timeout=10)
    events = wait_for_lines(out, 3 * count)
    assert len(events) == 3 * count
    for transport in emitters:
        mine = [ev for ev in events if ev["name"] == f"e2e.{transport}"]
        assert sorted(ev["value"] for ev in mine) == list(range(count)), transport
        for ev in mine:
            i = ev["value"]
            assert (ev["status"], ev["ratio"], ev["flag"], ev["note"], ev["node"]) == (
                "ok",
                i / 7,
                i % 2 == 0,
                f"é {i}",
                "n1",
            )
            assert isinstance(ev["time"], int)
    assert daemon.metric("numbat_listener_decoded_events_total", listener=f"udp://127.0.0.1:{port}") == count
    assert daemon.metric("numbat_sink_written_events_total", sink="file") == 3 * count
    assert daemon.stop() == 0


def test_bad_lines_are_counted_and_their_neighbours_kept(numbatd, tmp_path) -> None:
    port = free_port()
    out = tmp_path / "events.jsonl"
    daemon = numbatd(
        f"""
[limits]
max_line_bytes = 1000
[[listeners]]
url = "udp://127.0.0.1:{port}"
[[listeners]]
url = "tcp://127.0.0.1:{port}"
name = "tcp"
"""
        + jsonl_sink(out)
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(b'{"name":"udp.a"}\nnot json\n{"value":1}\n{"name":"udp.b"}\n', ("127.0.0.1", port))
    with socket.create_connection(("127.0.0.1", port)) as tcp:
        tcp.sendall(b'{"name":"tcp.a"}\n' + b'{"name":"' + b"x" * 5000 + b'"}\n{"name":"tcp.b"}\n[1]\n')
        tcp.sendall(b'{"name":"tcp.c"}\n')  # the connection survived the long line
        events = wait_for_lines(out, 5)
    assert sorted(ev["name"] for ev in events) == ["tcp.a", "tcp.b", "tcp.c", "udp.a", "udp.b"]
    rejected = "numbat_listener_rejected_lines_total"
    assert daemon.metric(rejected, listener="tcp", reason="line too long") == 1
    assert daemon.metric(rejected, listener="tcp", reason="not a JSON object") == 1
    assert daemon.metric(rejected, reason="invalid JSON") == 1
    assert daemon.metric(rejected, reason="no name") == 1
    assert any(
        entry.get("reason") == "invalid JSON" and "not json" in entry.get("sample", "") for entry in daemon.logs()
    )
    assert daemon.stop() == 0


def test_connection_limits_and_idle_timeout(numbatd, tmp_path) -> None:
    port = free_port()
    daemon = numbatd(
        f"""
[[listeners]]
url = "tcp://127.0.0.1:{port}"
name = "tcp"
limits = {{ max_connections = 2, idle_timeout = 0.5 }}
"""
        + jsonl_sink(tmp_path / "out.jsonl")
    )
    first, second = socket.create_connection(("127.0.0.1", port)), socket.create_connection(("127.0.0.1", port))
    assert wait_for(lambda: daemon.metric("numbat_listener_connections", listener="tcp") == 2)
    third = socket.create_connection(("127.0.0.1", port))
    third.settimeout(5)
    assert third.recv(1) == b""  # closed at once
    assert daemon.metric("numbat_listener_connections_refused_total", listener="tcp") == 1
    first.settimeout(5)
    assert first.recv(1) == b""  # closed after half a second of silence
    assert daemon.metric("numbat_listener_idle_closed_total", listener="tcp") >= 1
    for s in (first, second, third):
        s.close()
    assert daemon.stop() == 0


def stuck_receiver() -> socket.socket:
    """Accepts connections and never reads from them."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    return listener


def test_a_stuck_sink_stalls_nobody_and_is_cut_off_at_shutdown(numbatd, tmp_path) -> None:
    port = free_port()
    stuck = stuck_receiver()
    out = tmp_path / "events.jsonl"
    daemon = numbatd(
        f"""
shutdown_timeout = 2.0
[[listeners]]
url = "tcp://127.0.0.1:{port}"
[[sinks]]
type = "forward"
name = "stuck"
url = "tcp://127.0.0.1:{stuck.getsockname()[1]}"
queue_size = 1000
"""
        + jsonl_sink(out)
    )
    count = 20_000
    with emitter.Emitter(f"tcp://127.0.0.1:{port}", app="iso", max_backlog=count, **FAST) as e:
        for i in range(count):
            e.metric("event", i, padding="p" * 200)
        assert e.flush(timeout=20)
    events = wait_for_lines(out, count)
    assert sorted(ev["value"] for ev in events) == list(range(count))
    assert daemon.metric("numbat_sink_dropped_events_total", sink="stuck", cause="overflow") > 0
    started = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - started < 10
    stuck.close()


def test_sigterm_drains_the_queues_into_the_sinks(numbatd, tmp_path) -> None:
    port = free_port()
    peer = stuck_receiver()  # reads only once numbatd has been told to stop
    daemon = numbatd(
        f"""
shutdown_timeout = 15.0
[[listeners]]
url = "tcp://127.0.0.1:{port}"
[[sinks]]
type = "forward"
url = "tcp://127.0.0.1:{peer.getsockname()[1]}"
"""
    )
    count = 5000
    with emitter.Emitter(f"tcp://127.0.0.1:{port}", app="drain", **FAST) as e:
        for i in range(count):
            e.metric("event", i, padding="p" * 200)
        assert e.flush(timeout=20)
    assert wait_for(lambda: daemon.metric("numbat_listener_decoded_events_total") == count)
    assert daemon.metric("numbat_sink_queue_events") > 0  # still held: the peer is not reading
    daemon.signal(signal.SIGTERM)
    connection, _ = peer.accept()
    received = b""
    connection.settimeout(10)
    while received.count(b"\n") < count:
        data = connection.recv(1 << 20)
        if not data:
            break
        received += data
    assert daemon.stop() == 0
    values = [orjson.loads(line)["value"] for line in received.splitlines()]
    assert sorted(set(values)) == list(range(count))
    connection.close()
    peer.close()


def test_sighup_adds_a_sink_and_a_bad_file_keeps_the_running_config(numbatd, tmp_path) -> None:
    port = free_port()
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    listeners = f'[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n'
    daemon = numbatd(listeners + jsonl_sink(first, "first"))
    with emitter.Emitter(f"tcp://127.0.0.1:{port}", app="hup", **FAST) as e:
        e.metric("before")
        assert len(wait_for_lines(first, 1)) == 1

        daemon.write_config(listeners + jsonl_sink(first, "first") + jsonl_sink(second, "second"))
        daemon.signal(signal.SIGHUP)
        assert wait_for(lambda: daemon.metric("numbat_config_reloads_total", result="applied") == 1)
        e.metric("after")
        assert [ev["name"] for ev in wait_for_lines(second, 1)] == ["hup.after"]
        assert [ev["name"] for ev in wait_for_lines(first, 2)] == ["hup.before", "hup.after"]

        daemon.write_config(listeners + '[[sinks]]\ntype = "jsonl"\npath = 7\n')
        daemon.signal(signal.SIGHUP)
        assert wait_for(lambda: daemon.metric("numbat_config_reloads_total", result="refused") == 1)
        e.metric("still")
        assert [ev["name"] for ev in wait_for_lines(second, 2)] == ["hup.after", "hup.still"]
    refusal = [entry for entry in daemon.logs() if entry["message"].startswith("reload refused")]
    assert "sinks[0].path: must be a string" in refusal[0]["error"]
    assert daemon.stop() == 0


def test_filters_send_each_sink_its_share(numbatd, tmp_path) -> None:
    port = free_port()
    web, rest = tmp_path / "web.jsonl", tmp_path / "rest.jsonl"
    daemon = numbatd(
        f'[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n'
        + jsonl_sink(web, "web", 'include = ["web."]')
        + jsonl_sink(rest, "rest", 'exclude = ["web.", "noise."]')
    )
    with (
        emitter.Emitter(f"tcp://127.0.0.1:{port}", app="web", **FAST) as web_app,
        emitter.Emitter(f"tcp://127.0.0.1:{port}", app="api", **FAST) as api_app,
        emitter.Emitter(f"tcp://127.0.0.1:{port}", app="noise", **FAST) as noise_app,
    ):
        for i in range(100):
            web_app.metric("hit", i)
            api_app.metric("hit", i)
            noise_app.metric("hit", i)
    assert Counter(ev["name"] for ev in wait_for_lines(web, 100)) == {"web.hit": 100}
    assert Counter(ev["name"] for ev in wait_for_lines(rest, 100)) == {"api.hit": 100}
    assert daemon.stop() == 0


def test_jsonl_rotates_by_size(numbatd, tmp_path) -> None:
    port = free_port()
    out = tmp_path / "events.jsonl"
    daemon = numbatd(
        f'[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n' + jsonl_sink(out, extra="max_bytes = 20000\nkeep = 3")
    )
    with emitter.Emitter(f"tcp://127.0.0.1:{port}", app="rot", batch_size=50, **FAST) as e:
        for i in range(2000):
            e.metric("event", i)
            if i % 50 == 0:
                e.flush()
    assert daemon.stop() == 0
    files = [out, *(out.with_name(f"{out.name}.{n}") for n in (1, 2, 3))]
    assert all(f.exists() for f in files)
    assert not out.with_name(f"{out.name}.4").exists()
    assert all(f.stat().st_size <= 20000 for f in files)
    values = [ev["value"] for f in reversed(files) for ev in read_jsonl(f)]
    assert values == list(range(2000 - len(values), 2000))  # the newest, in order, across files


def test_health_and_readiness(numbatd, tmp_path) -> None:
    port = free_port()
    daemon = numbatd(f'[[listeners]]\nurl = "udp://127.0.0.1:{port}"\n' + jsonl_sink(tmp_path / "x.jsonl"))
    assert daemon.get("/healthz")[0] == 200
    assert daemon.get("/readyz") == (200, b'{"ready":true}')
    assert b"process_resident_memory_bytes" in daemon.get("/metrics")[1]
    assert daemon.stop() == 0


def test_forward_spools_while_the_peer_is_away_and_replays_in_order(numbatd, tmp_path) -> None:
    port = free_port()
    peer = StreamReceiver()
    peer.address = ("127.0.0.1", free_port())  # nothing listens there yet
    daemon = numbatd(
        f'state_dir = "{tmp_path}/state"\n[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n'
        f'[[sinks]]\ntype = "forward"\nurl = "tcp://127.0.0.1:{peer.address[1]}"\nretry_base = 0.05\nretry_cap = 0.2\n'
    )
    count = 3000
    with emitter.Emitter(f"tcp://127.0.0.1:{port}", app="fwd", **FAST) as e:
        for i in range(count):
            e.metric("event", i)
    assert wait_for(lambda: daemon.metric("numbat_sink_spooled_events_total") == count)
    peer.start()
    try:
        assert wait_for(lambda: len(peer.lines) >= count, 30)
        assert [ev["value"] for ev in peer.events] == list(range(count))
        assert wait_for(lambda: daemon.metric("numbat_sink_replayed_events_total") == count)
    finally:
        peer.stop()
    assert daemon.stop() == 0
