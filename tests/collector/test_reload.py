"""The real numbatd reloaded with what an operator gets wrong: a file that is not UTF-8,
a listener that cannot bind, a sink that cannot open. What ran before keeps running,
and the reload says it failed; the stop's log says what each sink did."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import emitter

from ..waiting import wait_for
from .numbatd import free_port, wait_for_lines

FAST = {"backoff_base": 0.01, "backoff_cap": 0.2}


def jsonl(path, name: str) -> str:
    return f'\n[[sinks]]\ntype = "jsonl"\nname = "{name}"\npath = "{path}"\nfsync = "never"\n'


def test_a_file_that_is_not_utf8_is_refused_at_reload_and_by_check_config(numbatd, tmp_path) -> None:
    port = free_port()
    out = tmp_path / "events.jsonl"
    config = f'[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n' + jsonl(out, "file")
    daemon = numbatd(config)
    daemon.config_path.write_bytes(config.encode() + b"\n# caf\xe9 in Latin-1\n")
    daemon.signal(signal.SIGHUP)
    assert wait_for(lambda: daemon.metric("numbat_config_reloads_total", result="refused") == 1)
    with emitter.Emitter(f"tcp://127.0.0.1:{port}", app="utf", **FAST) as e:
        e.metric("still.running")
    assert [ev["name"] for ev in wait_for_lines(out, 1)] == ["utf.still.running"]
    (refusal,) = [entry for entry in daemon.logs() if entry["message"].startswith("reload refused")]
    assert "not UTF-8" in refusal["error"]
    check = subprocess.run(
        [sys.executable, "-m", "collector", "--check-config", str(daemon.config_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 2
    assert "not UTF-8" in check.stderr
    assert "Traceback" not in check.stderr
    assert daemon.stop() == 0


def test_a_listener_that_cannot_bind_fails_the_reload_and_keeps_the_old_one(numbatd, tmp_path) -> None:
    port, taken = free_port(), free_port()
    out = tmp_path / "events.jsonl"
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", taken))
    blocker.listen()
    try:
        sinks = jsonl(out, "file")
        daemon = numbatd(f'[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\nname = "main"\n' + sinks)
        # the listener "main" moves to a port that is taken, and a new one wants it too
        daemon.write_config(
            f'[[listeners]]\nurl = "tcp://127.0.0.1:{taken}"\nname = "main"\n'
            f'[[listeners]]\nurl = "udp://127.0.0.1:{port}"\nname = "extra"\n' + sinks
        )
        daemon.signal(signal.SIGHUP)
        assert wait_for(lambda: daemon.metric("numbat_config_reloads_total", result="failed") == 1)
        assert daemon.metric("numbat_config_reloads_total", result="applied") == 0
        with emitter.Emitter(f"tcp://127.0.0.1:{port}", app="keep", **FAST) as e:  # the old settings
            e.metric("old.port")
        with emitter.Emitter(f"udp://127.0.0.1:{port}", app="keep", **FAST) as e:  # what could start, started
            e.metric("new.listener")
        assert sorted(ev["name"] for ev in wait_for_lines(out, 2)) == ["keep.new.listener", "keep.old.port"]
        (failure,) = [entry for entry in daemon.logs() if entry["message"].startswith("reload failed")]
        assert failure["failed"] == ["listener main"]
        assert daemon.stop() == 0
    finally:
        blocker.close()


def test_a_sink_that_cannot_open_keeps_its_old_settings(numbatd, tmp_path) -> None:
    port = free_port()
    out = tmp_path / "events.jsonl"
    (tmp_path / "a-folder").mkdir()
    daemon = numbatd(f'[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n' + jsonl(out, "file"))
    daemon.write_config(f'[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n' + jsonl(tmp_path / "a-folder", "file"))
    daemon.signal(signal.SIGHUP)
    assert wait_for(lambda: daemon.metric("numbat_config_reloads_total", result="failed") == 1)
    with emitter.Emitter(f"tcp://127.0.0.1:{port}", app="keep", **FAST) as e:
        e.metric("after")
    assert [ev["name"] for ev in wait_for_lines(out, 1)] == ["keep.after"]
    assert daemon.stop() == 0


def test_the_stop_says_what_each_sink_did_and_what_waits_in_its_spool(numbatd, tmp_path) -> None:
    port = free_port()
    out = tmp_path / "events.jsonl"
    daemon = numbatd(
        f'state_dir = "{tmp_path}/state"\n[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n'
        + jsonl(out, "file")
        + f'\n[[sinks]]\ntype = "forward"\nname = "away"\nurl = "tcp://127.0.0.1:{free_port()}"\nretry_base = 0.05\n'
    )
    with emitter.Emitter(f"tcp://127.0.0.1:{port}", app="bye", **FAST) as e:
        for i in range(100):
            e.metric("event", i)
    assert wait_for(lambda: daemon.metric("numbat_sink_spooled_events_total", sink="away") == 100)
    assert daemon.stop() == 0
    (stopped,) = [entry for entry in daemon.logs() if entry["message"] == "numbatd stopped"]
    assert stopped["decoded"] == 100
    assert stopped["sinks"]["file"]["written"] == 100
    assert stopped["sinks"]["away"]["written"] == 100
    assert stopped["sinks"]["away"]["spooled_for_replay"] == 100
    assert "delivered" not in stopped["sinks"]["away"]
