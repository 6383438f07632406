"""What the README promises: numbatd with no arguments, and a metric sent with numbat-emit."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from collector.config import DEFAULT_PORT, DEFAULT_SELF_METRICS
from collector.sinks._console import format_event

from ..waiting import wait_for


def port_free(port: int) -> bool:
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        try:
            tcp.bind(("127.0.0.1", port))
            udp.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def ready() -> bool:
    try:
        with urllib.request.urlopen(f"http://{DEFAULT_SELF_METRICS}/readyz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def test_numbatd_with_no_arguments_prints_what_numbat_emit_sends(tmp_path) -> None:
    metrics_port = int(DEFAULT_SELF_METRICS.rpartition(":")[2])
    if not (port_free(DEFAULT_PORT) and port_free(metrics_port)):
        pytest.skip(f"the default ports {DEFAULT_PORT} and {metrics_port} are taken on this machine")
    out = tmp_path / "stdout"
    with open(out, "wb") as stdout:
        daemon = subprocess.Popen([sys.executable, "-m", "collector"], stdout=stdout, stderr=subprocess.PIPE)
    try:
        assert wait_for(ready, 20)
        for uri in (f"tcp://127.0.0.1:{DEFAULT_PORT}", f"udp://127.0.0.1:{DEFAULT_PORT}"):
            sent = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "emitter.cli",
                    "--uri",
                    uri,
                    "--app",
                    "backup",
                    "job.duration",
                    "412",
                    "status=ok",
                ],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert sent.returncode == 0, sent.stderr
        assert wait_for(lambda: out.read_text().count("backup.job.duration 412") == 2, 10)
        assert "status=ok" in out.read_text()
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(20) == 0
        assert b"numbatd stopped" in daemon.stderr.read()  # type: ignore[union-attr]


def test_console_lines() -> None:
    event = {"name": "app.latency", "value": 30, "time": 1_700_000_000_123, "host": "web-1", "status": "ok"}
    assert format_event(event, colour=False) == "22:13:20.123 app.latency 30 host=web-1 status=ok"
    coloured = format_event(event, colour=True)
    assert "\x1b[32m" in coloured  # status ok in green
    assert "app.latency" in coloured
    assert format_event({"name": "x", "value": 1, "time": "bad"}, colour=False) == "bad x 1"
    summary = {"name": "app.requests", "time": 1_700_000_010_000, "kind": "counter", "count": 12.0, "rate": 1.2}
    assert format_event(summary, colour=False) == "22:13:30.000 app.requests kind=counter count=12.0 rate=1.2"
