"""numbat-run into the real numbatd's alerts sink (issue 18's last point): the monitored
process tree killed with SIGKILL (numbat-run and its child: nothing left to say goodbye)
opens the heartbeat incident within the heartbeat's ttl (3 x --heartbeat)."""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from pathlib import Path

import orjson
import psutil

from ..collector.numbatd import free_port, read_jsonl
from ..waiting import wait_for
from .running import start

SERVICE = """
    import time
    time.sleep(60)
"""
HEARTBEAT = 0.2  #: seconds; the ttl is three of them


def incidents(port: int) -> list[dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/incidents", timeout=5) as response:
        return orjson.loads(response.read())


def test_a_killed_process_tree_opens_its_heartbeat_incident_within_the_ttl(numbatd, tmp_path: Path) -> None:
    udp, api_port = free_port(), free_port()
    out = tmp_path / "events.jsonl"
    numbatd(
        f'[[listeners]]\nurl = "udp://127.0.0.1:{udp}"\n'
        f'[[sinks]]\ntype = "jsonl"\npath = "{out}"\nfsync = "never"\n'
        f'[[sinks]]\ntype = "alerts"\nlisten = "127.0.0.1:{api_port}"\nmax_tick_interval = 0.5\n'
        '[[sinks.rules]]\nkind = "heartbeat"\nname = "beats"\nflap_hold = 0\n'
        '[[sinks.outputs]]\ntype = "log"\n'
    )
    options = ["--uri", f"udp://127.0.0.1:{udp}", "--app", "registry", "--interval", "0.2"]
    monitor = start([*options, "--heartbeat", str(HEARTBEAT)], SERVICE, tmp_path)
    try:
        assert wait_for(lambda: [e for e in read_jsonl(out) if e["name"] == "registry.heartbeat"], 10)
        [beat, *_] = [e for e in read_jsonl(out) if e["name"] == "registry.heartbeat"]
        assert beat["ttl"] == round(3 * HEARTBEAT * 1000)
        assert incidents(api_port) == []
        tree = [monitor.pid, *(child.pid for child in psutil.Process(monitor.pid).children(recursive=True))]
        assert len(tree) >= 2
        for pid in tree:
            os.kill(pid, signal.SIGKILL)
        killed = time.time() * 1000
        assert wait_for(lambda: incidents(api_port), 5)
        [incident] = incidents(api_port)
        assert incident["key"] == f"beats/registry/host={beat['host']}"
        assert incident["severity"] == "critical"
        assert incident["opened_ms"] <= killed + beat["ttl"]
    finally:
        monitor.kill()
        monitor.wait()
