"""numbat-run into the real numbatd and its JSONL sink: the events and their fields as
the README documents them; and with no collector at all, the child untouched."""

from __future__ import annotations

import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from ..collector.numbatd import free_port, read_jsonl
from ..waiting import wait_for
from .running import run, start

SERVICE = """
    import socket, time
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    open("port", "w").write(str(server.getsockname()[1]))
    print("serving", flush=True)
    time.sleep(30)
"""
READINGS = ["cpu", "memory", "threads", "fds", "processes", "uptime"]


def names(events: list[dict]) -> list[str]:
    return [event["name"].removeprefix("registry.") for event in events]


def test_the_event_sequence_and_fields_through_numbatd(numbatd, tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "events.jsonl"
    numbatd(
        f'[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n'
        f'[[sinks]]\ntype = "jsonl"\nname = "file"\npath = "{out}"\nfsync = "never"\n'
    )
    options = ["--uri", f"tcp://127.0.0.1:{port}", "--app", "registry", "--node", "web-1", "--logs"]
    options += ["--interval", "0.2", "--heartbeat", "0.3"]
    monitor = start(options, SERVICE, tmp_path)
    try:
        assert wait_for(lambda: names(read_jsonl(out)).count("uptime") >= 3 and "start" in names(read_jsonl(out)), 15)
        monitor.send_signal(signal.SIGTERM)
        assert monitor.wait(10) == 128 + signal.SIGTERM
    finally:
        monitor.kill()
        monitor.wait()
    assert monitor.stdout.read() == b"serving\n"  # type: ignore[union-attr]
    assert wait_for(lambda: "shutdown" in names(read_jsonl(out)), 10)
    events = read_jsonl(out)
    sequence = names(events)
    service_port = int((tmp_path / "port").read_text())
    pid = events[0]["pid"]

    assert sequence[0] == "spawn"
    assert sequence[-2:] == ["exit", "shutdown"]
    assert set(sequence) == {"spawn", "heartbeat", "start", "log", *READINGS, "exit", "shutdown"}
    assert sequence.count("start") == sequence.count("spawn") == 1
    for event in events:  # the emitter's defaults and numbat-run's own
        assert event["name"].startswith("registry.")
        assert (event["node"], event["host"], event["pid"]) == ("web-1", socket.gethostname(), pid)
        assert isinstance(event["time"], int)
    spawn, heartbeat, started = events[0], events[sequence.index("heartbeat")], events[sequence.index("start")]
    assert (spawn["value"], spawn["status"]) == (1, "ok")
    assert spawn["command"].startswith(sys.executable)
    assert "monitor" not in spawn["command"]
    assert (heartbeat["ttl"], heartbeat["status"]) == (900, "ok")  # three heartbeat intervals, in ms
    assert (started["ports"], started["status"]) == (str(service_port), "ok")
    [log] = [event for event in events if event["name"] == "registry.log"]
    assert (log["stream"], log["line"]) == ("stdout", "serving")
    # the readings come six at a time, all of one moment
    groups = [events[i : i + 6] for i, name in enumerate(sequence) if name == "cpu"]
    assert len(groups) >= 3
    for group in groups:
        assert names(group) == READINGS
        assert len({event["time"] for event in group}) == 1
        assert group[1]["value"] > 1_000_000  # a Python's RSS
        assert group[4]["value"] == 1
    uptimes = [group[5]["value"] for group in groups]
    assert uptimes == sorted(uptimes)
    assert uptimes[1] - uptimes[0] == pytest.approx(0.2, abs=0.15)
    heartbeats = [event["time"] for event in events if event["name"] == "registry.heartbeat"]
    assert len(heartbeats) >= 2
    exited, shutdown = events[-2:]
    assert (exited["value"], exited["signal"], exited["status"]) == (143, "SIGTERM", "ok")
    assert exited["uptime"] >= uptimes[-1]
    assert shutdown["status"] == "ok"
    assert spawn["time"] <= started["time"] <= exited["time"] <= shutdown["time"]


@pytest.mark.parametrize("scheme", ["udp", "tcp"])
def test_with_no_collector_the_child_runs_and_its_status_is_passed_on(tmp_path: Path, scheme: str) -> None:
    """Nothing listens on the collector's port the whole time: the child runs to its end,
    its output passes, and numbat-run exits with its status once the flush gives up."""
    child = "import sys, time; time.sleep(0.5); print('done'); sys.exit(4)"
    options = ["--uri", f"{scheme}://127.0.0.1:{free_port()}", "--app", "lonely", "--interval", "0.1"]
    began = time.monotonic()
    result = run([*options, "--heartbeat", "0.1", "--logs", "--flush-timeout", "1"], child, tmp_path)
    took = time.monotonic() - began
    assert (result.returncode, result.stdout) == (4, b"done\n")
    # beside the child's output, at most the emitter's own word on the collector
    assert all(line.startswith(b"numbat emitter: cannot reach") for line in result.stderr.splitlines())
    assert 0.5 <= took < 5
