"""Whole processes: fork, interpreter exit, and the numbat-emit command."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from ..waiting import wait_for

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def run_python(code: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout, env=ENV
    )


def test_a_forked_child_emits_on_its_own_connection(tcp_receiver) -> None:
    result = run_python(f"""
        import os, emitter
        e = emitter.Emitter({tcp_receiver.uri!r}, app="forky", backoff_base=0.01)
        e.metric("parent.before", os.getpid())
        assert e.flush(5)
        pid = os.fork()
        if pid == 0:
            for i in range(100):
                e.metric("child", i)
            raise SystemExit(0)  # the child leaves through interpreter exit, which flushes
        for i in range(100):
            e.metric("parent.after", i)
        _, status = os.waitpid(pid, 0)
        assert e.close(5)
        raise SystemExit(os.waitstatus_to_exitcode(status))
    """)
    assert result.returncode == 0, result.stderr
    assert wait_for(lambda: len(tcp_receiver.lines) == 201)
    names = [event["name"] for event in tcp_receiver.events]
    assert names.count("forky.parent.before") == 1  # the child did not resend the parent's events
    assert names.count("forky.child") == 100
    assert names.count("forky.parent.after") == 100
    assert tcp_receiver.connections == 2
    child_values = [ev["value"] for ev in tcp_receiver.events if ev["name"] == "forky.child"]
    assert child_values == list(range(100))


def test_interpreter_exit_flushes_what_is_queued(tcp_receiver) -> None:
    result = run_python(f"""
        import emitter
        e = emitter.Emitter({tcp_receiver.uri!r}, app="exiting")
        for i in range(10_000):
            e.metric("last.words", i)
    """)
    assert result.returncode == 0, result.stderr
    assert wait_for(lambda: len(tcp_receiver.lines) == 10_000)


def test_interpreter_exit_is_bounded_when_the_collector_is_down() -> None:
    result = run_python("""
        import time, emitter
        e = emitter.Emitter("tcp://127.0.0.1:9", app="exiting", exit_timeout=0.5)
        e.metric("into.the.void")
        started = time.monotonic()
        import atexit
        atexit.register(lambda: print(f"{time.monotonic() - started:.1f}"))
    """)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.strip()) < 3


def numbat_emit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emitter.cli", *args], capture_output=True, text=True, timeout=30, env=ENV
    )


def test_numbat_emit_sends_one_event(tcp_receiver) -> None:
    result = numbat_emit(
        "--uri",
        tcp_receiver.uri,
        "--app",
        "cron",
        "--node",
        "n7",
        "backup.duration",
        "412.5",
        "status=ok",
        "files=12",
        "full=true",
    )
    assert result.returncode == 0, result.stderr
    assert wait_for(lambda: len(tcp_receiver.lines) == 1)
    event = tcp_receiver.events[0]
    assert (event["name"], event["value"], event["node"]) == ("cron.backup.duration", 412.5, "n7")
    assert (event["status"], event["files"], event["full"]) == ("ok", 12, True)


def test_numbat_emit_defaults_value_and_reads_the_environment(tcp_receiver) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "emitter.cli", "heartbeat", "state=up"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**ENV, "NUMBAT_URI": tcp_receiver.uri, "NUMBAT_APP": "envapp"},
    )
    assert result.returncode == 0, result.stderr
    assert wait_for(lambda: len(tcp_receiver.lines) == 1)
    assert tcp_receiver.events[0]["value"] == 1
    assert tcp_receiver.events[0]["name"] == "envapp.heartbeat"


def test_numbat_emit_rejects_bad_arguments() -> None:
    cases = [
        (["--app", "x", "--uri", "ws://h:1", "m"], "unsupported destination uri"),
        (["--uri", "udp://127.0.0.1:3333", "m"], "--app"),
        (["--app", "x", "m", "notanumber"], "VALUE must be a number"),
        (["--app", "x", "m", "1", "novalue"], "key=value"),
        (["--app", "x"], "the following arguments are required: name"),
    ]
    env = {k: v for k, v in ENV.items() if not k.startswith("NUMBAT_")}
    for args, message in cases:
        result = subprocess.run(
            [sys.executable, "-m", "emitter.cli", *args], capture_output=True, text=True, timeout=30, env=env
        )
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)


def test_numbat_emit_fails_when_it_cannot_deliver() -> None:
    result = numbat_emit("--uri", "tcp://127.0.0.1:9", "--app", "x", "--timeout", "0.5", "m")
    assert result.returncode == 1
    assert "not delivered" in result.stderr
