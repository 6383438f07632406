"""Out of file descriptors: numbatd under ``prlimit --nofile=N:N`` with more clients than N.

Connections past the budget (the limit minus ``fd_reserve``) are accepted and closed at
once, so /metrics, a rotating jsonl sink and the accepted connections keep working; when
accept fails for want of descriptors anyway, the loop backs off quietly.
"""

from __future__ import annotations

import shutil
import socket
import time

import orjson
import pytest

from ..waiting import wait_for
from .numbatd import closed_by_peer, free_port, read_jsonl

pytestmark = pytest.mark.skipif(shutil.which("prlimit") is None, reason="needs prlimit (util-linux)")

NOFILE = 200
PRLIMIT = ("prlimit", f"--nofile={NOFILE}:{NOFILE}")


def config(port: int, out, reserve: int, sink: str = "") -> str:
    return f"""
[limits]
fd_reserve = {reserve}
[[listeners]]
url = "tcp://127.0.0.1:{port}"
name = "tcp"
limits = {{ max_connections = 4096 }}
[[sinks]]
type = "jsonl"
path = "{out}"
fsync = "never"
{sink}
"""


def connect_all(port: int, count: int) -> list[socket.socket]:
    clients = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(orjson.dumps({"name": "first", "value": i}) + b"\n")
        clients.append(sock)
    return clients


def no_tracebacks_and_few_emfile_lines(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert sum("EMFILE" in line for line in stderr.splitlines()) <= 3, stderr[-3000:]


def test_connections_past_the_budget_are_refused_and_the_rest_keeps_working(numbatd, tmp_path) -> None:
    port = free_port()
    out = tmp_path / "events.jsonl"
    reserve = 64
    daemon = numbatd(config(port, out, reserve, "max_bytes = 1500\nkeep = 1000"), wrapper=PRLIMIT)
    clients = connect_all(port, 300)
    connections = "numbat_listener_connections"
    refused = "numbat_listener_connections_refused_total"
    assert wait_for(lambda: daemon.metric(connections) + daemon.metric(refused) == 300, 20)
    assert daemon.metric(connections, listener="tcp") == NOFILE - reserve
    assert wait_for(lambda: sum(map(closed_by_peer, clients)) == 300 - (NOFILE - reserve), 5)
    accepted = [i for i, sock in enumerate(clients) if not closed_by_peer(sock)]
    assert len(accepted) == NOFILE - reserve
    assert daemon.metric(refused, listener="tcp", reason="fd budget") == 300 - len(accepted)
    for round_ in range(5):
        for i in accepted:
            clients[i].sendall(orjson.dumps({"name": "more", "value": i, "round": round_}) + b"\n")
        assert daemon.get("/metrics")[0] == 200  # the self-metrics endpoint has descriptors left
        time.sleep(0.1)
    for sock in clients:
        sock.close()
    assert daemon.stop() == 0
    files = [out, *sorted(tmp_path.glob("events.jsonl.*"))]
    assert len(files) > 2  # it rotated all along (how often depends on how the writes were batched)
    events = [e for f in files for e in read_jsonl(f)]
    first = sorted(e["value"] for e in events if e["name"] == "first")
    assert first == accepted  # nothing sent over an accepted connection is lost
    assert sorted((e["value"], e["round"]) for e in events if e["name"] == "more") == [
        (i, r) for i in accepted for r in range(5)
    ]
    stderr = daemon.stderr()
    no_tracebacks_and_few_emfile_lines(stderr)
    warning = next(e for e in daemon.logs() if "max_connections" in e["message"])
    assert (warning["fd_limit"], warning["fd_reserve"], warning["max_connections"]) == (NOFILE, reserve, 4096)


def test_accept_backs_off_quietly_when_descriptors_run_out(numbatd, tmp_path) -> None:
    port = free_port()
    out = tmp_path / "events.jsonl"
    daemon = numbatd(config(port, out, reserve=1), wrapper=PRLIMIT)
    clients = connect_all(port, 260)  # more than the process can hold
    time.sleep(3)  # accept fails with EMFILE meanwhile, backing off
    for sock in clients[:150]:
        sock.close()
    time.sleep(1)  # numbatd closes its ends before anyone asks /metrics
    open_connections = "numbat_listener_connections"
    assert wait_for(lambda: daemon.metric(open_connections, listener="tcp") == 110, 20)
    assert daemon.metric("numbat_listener_accept_errors_total", listener="tcp", error="EMFILE") >= 1
    for sock in clients[150:]:
        sock.sendall(b'{"name":"late"}\n')
    assert wait_for(lambda: sum(e["name"] == "late" for e in read_jsonl(out)) == 110, 10)
    for sock in clients[150:]:
        sock.close()
    assert daemon.stop() == 0
    no_tracebacks_and_few_emfile_lines(daemon.stderr())
