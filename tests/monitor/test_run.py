"""numbat-run around real child processes: exit statuses, signals, the parent-death
signal, the output passed through, and the events each case sends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ..waiting import wait_for
from .running import env, monitor_argv, named, run, start

FAST = ["--interval", "0.2", "--flush-timeout", "5"]


def options(collector, *more: str) -> list[str]:
    return ["--uri", collector.uri(), "--app", "svc", *FAST, *more]


def events_until(collector, name: str, timeout: float = 10) -> list[dict]:
    """The events received, once one named ``name`` is among them."""
    assert wait_for(lambda: any(e["name"] == name for e in collector.events), timeout), collector.events
    return collector.events


LISTENER = """
    import socket, sys, time
    time.sleep(0.3)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    open("port", "w").write(str(server.getsockname()[1]))
    time.sleep(1.2)
"""


@pytest.mark.parametrize("where", ["child", "grandchild"])
def test_the_start_event_names_the_port_the_service_listens_on(collector, tmp_path: Path, where: str) -> None:
    child = (
        LISTENER
        if where == "child"
        else f"import subprocess, sys; subprocess.run([sys.executable, '-c', {LISTENER!r}.replace('\\n    ', '\\n')])"
    )
    result = run(options(collector), child, tmp_path)
    assert result.returncode == 0, result.stderr
    port = int((tmp_path / "port").read_text())
    [started] = named(events_until(collector, "svc.shutdown"), "svc.start")
    assert (started["ports"], started["status"]) == (str(port), "ok")
    assert 0.3 <= started["value"] < 1.5
    [exited] = named(collector.events, "svc.exit")
    assert (exited["value"], exited["code"], exited["status"]) == (0, 0, "ok")


def test_an_exit_status_is_passed_on_and_is_critical(collector, tmp_path: Path) -> None:
    result = run(options(collector, "--start-timeout", "0"), "import sys; sys.exit(3)", tmp_path)
    assert result.returncode == 3
    events = events_until(collector, "svc.exit")
    [exited] = named(events, "svc.exit")
    assert (exited["value"], exited["code"], exited["status"]) == (3, 3, "critical")
    assert "signal" not in exited
    time.sleep(0.2)
    assert named(collector.events, "svc.shutdown") == []  # a crash: the heartbeat rule keeps watching


def test_a_child_killed_by_a_signal_gives_128_plus_its_number(collector, tmp_path: Path) -> None:
    child = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    result = run(options(collector, "--start-timeout", "0"), child, tmp_path)
    assert result.returncode == 128 + signal.SIGKILL == 137
    [exited] = named(events_until(collector, "svc.exit"), "svc.exit")
    assert (exited["value"], exited["signal"], exited["status"]) == (137, "SIGKILL", "critical")
    assert "code" not in exited


SIGNAL_RECORDER = """
    import os, signal, sys, time
    def record(number, frame):
        with open("seen", "a") as seen:
            seen.write(signal.Signals(number).name + "\\n")
        if number == signal.SIGTERM:
            sys.exit(0)
    for name in ("SIGHUP", "SIGUSR1", "SIGUSR2", "SIGTERM", "SIGINT"):
        signal.signal(getattr(signal, name), record)
    open("ready", "w").write(str(os.getpid()))
    time.sleep(30)
"""


def seen(tmp_path: Path) -> list[str]:
    path = tmp_path / "seen"
    return path.read_text().split() if path.exists() else []


def test_signals_are_forwarded_and_a_stop_is_not_a_crash(collector, tmp_path: Path) -> None:
    monitor = start(options(collector, "--start-timeout", "0"), SIGNAL_RECORDER, tmp_path)
    try:
        assert wait_for((tmp_path / "ready").exists, 10)
        for number in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGINT):
            monitor.send_signal(number)
            assert wait_for(lambda number=number: signal.Signals(number).name in seen(tmp_path), 5)
        monitor.send_signal(signal.SIGTERM)
        assert monitor.wait(10) == 0
    finally:
        monitor.kill()
        monitor.wait()
    assert seen(tmp_path) == ["SIGHUP", "SIGUSR1", "SIGUSR2", "SIGINT", "SIGTERM"]  # each once
    events = events_until(collector, "svc.shutdown")
    [exited] = named(events, "svc.exit")
    assert (exited["code"], exited["status"]) == (0, "ok")
    assert "after SIGINT" in exited["description"]  # the first stop asked for


def test_a_child_stopped_by_the_forwarded_sigterm_exits_143_cleanly(collector, tmp_path: Path) -> None:
    child = "import time; open('ready', 'w').close(); time.sleep(30)"
    monitor = start(options(collector, "--start-timeout", "0"), child, tmp_path)
    assert wait_for((tmp_path / "ready").exists, 10)
    monitor.send_signal(signal.SIGTERM)
    assert monitor.wait(10) == 143
    events = events_until(collector, "svc.shutdown")
    [exited] = named(events, "svc.exit")
    assert (exited["signal"], exited["status"], exited["value"]) == ("SIGTERM", "ok", 143)


STUBBORN = """
    import os, signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    deaf = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    worker = subprocess.Popen([sys.executable, "-c", deaf])
    open("pids", "w").write(f"{os.getpid()} {worker.pid}")
    time.sleep(60)
"""


def test_a_child_that_ignores_sigterm_is_killed_with_its_processes_after_the_stop_timeout(
    collector, tmp_path: Path
) -> None:
    monitor = start(options(collector, "--start-timeout", "0", "--stop-timeout", "0.5"), STUBBORN, tmp_path)
    try:
        assert wait_for(lambda: (tmp_path / "pids").exists() and (tmp_path / "pids").read_text(), 10)
        processes = [psutil.Process(int(pid)) for pid in (tmp_path / "pids").read_text().split()]
        time.sleep(0.3)  # the worker sets its handler
        asked = time.monotonic()
        monitor.send_signal(signal.SIGTERM)
        assert monitor.wait(10) == 137
        took = time.monotonic() - asked
    finally:
        monitor.kill()
        monitor.wait()
    assert 0.5 <= took < 5
    assert wait_for(lambda: not any(alive(process) for process in processes), 5)
    assert b"still running 0.5 s after SIGTERM" in monitor.stderr.read()  # type: ignore[union-attr]
    events = events_until(collector, "svc.shutdown")
    [exited] = named(events, "svc.exit")
    assert (exited["signal"], exited["status"]) == ("SIGKILL", "warning")


def alive(process: psutil.Process) -> bool:
    """Running, and not a zombie waiting for a parent (or an init) to reap it."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_sigkill_of_numbat_run_leaves_no_child_running(collector, tmp_path: Path) -> None:
    child = "import os, time; open('pid', 'w').write(str(os.getpid())); time.sleep(60)"
    monitor = start(options(collector, "--start-timeout", "0"), child, tmp_path)
    try:
        assert wait_for(lambda: (tmp_path / "pid").exists() and (tmp_path / "pid").read_text(), 10)
        process = psutil.Process(int((tmp_path / "pid").read_text()))
        assert alive(process)
        monitor.kill()
        monitor.wait(10)
        assert wait_for(lambda: not alive(process), 5)
    finally:
        monitor.kill()
        monitor.wait()


OUTPUT = """
    import os, sys
    out, err = sys.stdout.buffer, sys.stderr.buffer
    out.write(b"plain\\n"); out.flush()
    err.write(b"to stderr\\r\\n"); err.flush()
    pieces = (b"cut ", b"in ", b"pieces\\n", b"bad \\xff byte\\n", b"caf\\xc3\\xa9\\n", b"x" * 5000 + b"\\n", b"\\n")
    for piece in pieces:
        out.write(piece); out.flush()
    out.write(sys.stdin.buffer.read())
    out.write(b"no newline at the end"); out.flush()
    err.write(b"last"); err.flush()
"""
STDIN = b"from stdin\n\x00\x01 binary\n"
STDOUT = (
    b"plain\ncut in pieces\nbad \xff byte\ncaf\xc3\xa9\n" + b"x" * 5000 + b"\n\n" + STDIN + b"no newline at the end"
)
STDERR = b"to stderr\r\nlast"


@pytest.mark.parametrize("logs", [False, True], ids=["inherited", "logs"])
def test_output_passes_through_byte_for_byte(collector, tmp_path: Path, logs: bool) -> None:
    more = ["--start-timeout", "0", "--log-rate", "1000", "--log-burst", "1000", "--log-line-bytes", "1000"]
    result = run(options(collector, *more, *(["--logs"] if logs else [])), OUTPUT, tmp_path, input=STDIN)
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == (STDOUT, STDERR)
    events = events_until(collector, "svc.exit")
    lines = named(events, "svc.log")
    if not logs:
        assert lines == []
        return
    by_stream = {
        stream: [(e["line"], e.get("truncated", False)) for e in lines if e["stream"] == stream]
        for stream in ("stdout", "stderr")
    }
    long_line = [line for line, _ in by_stream["stdout"] if line.startswith("xxx")]
    assert len(long_line) == 1
    assert len(long_line[0]) == 1000 - 2
    assert by_stream["stdout"] == [
        ("plain", False),
        ("cut in pieces", False),
        ("bad \ufffd byte", False),
        ("café", False),
        (long_line[0], True),
        ("", False),
        ("from stdin", False),
        ("\x00\x01 binary", False),
        ("no newline at the end", False),
    ]
    assert by_stream["stderr"] == [("to stderr", False), ("last", False)]
    assert named(events, "svc.log.dropped") == []


def test_log_lines_beyond_the_rate_are_dropped_and_counted(collector, tmp_path: Path) -> None:
    child = "import time\nfor i in range(500): print(i)\nimport sys; sys.stdout.flush(); time.sleep(0.6)"
    started = time.monotonic()
    result = run(
        options(collector, "--start-timeout", "0", "--logs", "--log-rate", "10", "--log-burst", "20"), child, tmp_path
    )
    took = time.monotonic() - started
    assert result.returncode == 0
    assert result.stdout == b"".join(b"%d\n" % i for i in range(500))  # the output is all there
    events = events_until(collector, "svc.exit")
    sent = named(events, "svc.log")
    dropped = sum(e["value"] for e in named(events, "svc.log.dropped"))
    assert 20 <= len(sent) <= 20 + 10 * took
    assert len(sent) + dropped == 500
    assert [e["line"] for e in sent[:20]] == [str(i) for i in range(20)]


def test_a_service_that_never_listens_gets_a_start_warning_with_its_last_output(collector, tmp_path: Path) -> None:
    child = "import time\nfor i in range(30): print('warming up', i)\nimport sys; sys.stdout.flush(); time.sleep(1)"
    result = run(options(collector, "--logs", "--start-timeout", "0.3", "--tail-lines", "5"), child, tmp_path)
    assert result.returncode == 0
    [started] = named(events_until(collector, "svc.exit"), "svc.start")
    assert started["status"] == "warning"
    assert 0.3 <= started["value"] < 1
    assert "not listening" in started["description"]
    assert started["output"] == "\n".join(f"warming up {i}" for i in range(25, 30))


@pytest.mark.parametrize("logs", [True, False], ids=["logs", "no-logs"])
def test_a_service_that_exits_before_it_listens_gets_a_start_warning(collector, tmp_path: Path, logs: bool) -> None:
    child = "import sys; print('boom: no config', file=sys.stderr); sys.exit(1)"
    result = run(options(collector, *(["--logs"] if logs else [])), child, tmp_path)
    assert result.returncode == 1
    assert result.stderr == b"boom: no config\n"
    events = events_until(collector, "svc.exit")
    [started] = named(events, "svc.start")
    assert (started["status"], started["ports"]) == ("warning", "")
    assert "exited" in started["description"]
    assert started["output"] == ("boom: no config" if logs else "(not captured: run numbat-run with --logs)")
    assert [e["name"] for e in events][-2:] == ["svc.start", "svc.exit"]


BUSY_FAMILY = """
    import subprocess, sys, threading, time
    spin = "import time\\nend = time.monotonic() + 2\\nwhile time.monotonic() < end: pass"
    spinner = subprocess.Popen([sys.executable, "-c", spin])
    ballast = bytearray(40_000_000)
    files = [open("/dev/null") for _ in range(20)]
    for _ in range(3):
        threading.Thread(target=time.sleep, args=(3,), daemon=True).start()
    spinner.wait()
"""


def test_the_readings_cover_the_child_and_every_process_it_started(collector, tmp_path: Path) -> None:
    result = run(options(collector, "--start-timeout", "0", "--interval", "0.4"), BUSY_FAMILY, tmp_path)
    assert result.returncode == 0, result.stderr
    events = events_until(collector, "svc.exit")
    readings = {
        name: [e["value"] for e in named(events, f"svc.{name}")]
        for name in ("cpu", "memory", "threads", "fds", "processes", "uptime")
    }
    assert len(readings["uptime"]) >= 3
    assert readings["uptime"] == sorted(readings["uptime"])
    assert max(readings["processes"]) == 2
    assert max(readings["cpu"]) >= 25  # the spinner, a grandchild: the child itself sleeps
    assert max(readings["memory"]) >= 40_000_000
    assert max(readings["threads"]) >= 5  # the child's four and the spinner's one
    assert max(readings["fds"]) >= 20
    pids = {e["pid"] for e in events if "pid" in e}
    assert len(pids) == 1


def test_host_metrics(collector, tmp_path: Path) -> None:
    result = run(
        options(collector, "--start-timeout", "0", "--host-metrics", "--disk", str(tmp_path)),
        "import time; time.sleep(0.5)",
        tmp_path,
    )
    assert result.returncode == 0
    events = events_until(collector, "svc.exit")
    for name in ("host.load1", "host.load5", "host.load15"):
        assert named(events, f"svc.{name}")[0]["value"] >= 0
    for name in ("host.memory", "host.disk"):
        assert 0 < named(events, f"svc.{name}")[0]["value"] <= 1
    assert named(events, "svc.host.disk")[0]["path"] == str(tmp_path)


@pytest.mark.parametrize(("command", "status"), [("no-such-command-here", 127), ("not-executable", 126)])
def test_a_command_that_cannot_run(collector, tmp_path: Path, command: str, status: int) -> None:
    (tmp_path / "not-executable").write_text("#!/bin/sh\n")
    argv = [os.fspath(tmp_path / command)] if command == "not-executable" else [command]
    result = run(options(collector), None, tmp_path, command=argv)
    assert result.returncode == status
    assert result.stderr.startswith(b"numbat-run: cannot run ")
    [exited] = named(events_until(collector, "svc.exit"), "svc.exit")
    assert (exited["code"], exited["status"]) == (status, "critical")


#: Makes itself a session leader with the pseudo-terminal on its stdin as its controlling
#: terminal (so that it is the terminal's foreground process group), then becomes numbat-run.
AT_A_TERMINAL = (
    "import fcntl, os, sys, termios; os.setsid(); fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


#: Takes each signal as it comes (a handler would see two that come close together as
#: one), and writes down who sent it: the kernel (a terminal) or a process, by its PID.
SIGNAL_COUNTER = """
    import os, signal, sys
    if sys.argv[1:] == ["own-group"]:
        os.setpgid(0, 0)  # out of the terminal's foreground process group
    watched = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    open("ready", "w").close()
    while True:
        info = signal.sigwaitinfo(watched)
        sender = "terminal" if info.si_code == 0x80 else str(info.si_pid)
        with open("seen", "a") as seen:
            seen.write(f"{signal.Signals(info.si_signo).name}:{sender}\\n")
        if info.si_signo == signal.SIGTERM:
            break
"""


@pytest.mark.parametrize("group", ["same-group", "own-group"])
def test_ctrl_c_at_a_terminal_reaches_the_child_once(collector, tmp_path: Path, group: str) -> None:
    """The terminal sends SIGINT to its whole foreground process group, the child
    included: numbat-run does not send it a second one. A child that left the group gets
    it from numbat-run. Ten times over, each seen before the next: a second SIGINT close
    behind the first may merge with it, so one try could miss a double."""
    primary, secondary = os.openpty()
    argv = [*monitor_argv(options(collector, "--start-timeout", "0"), SIGNAL_COUNTER), group]
    monitor = subprocess.Popen(
        [sys.executable, "-c", AT_A_TERMINAL, *argv[1:]],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        cwd=tmp_path,
        env=env(),
    )
    os.close(secondary)
    sender = "terminal" if group == "same-group" else str(monitor.pid)
    try:
        assert wait_for((tmp_path / "ready").exists, 10)
        for times in range(1, 11):
            os.write(primary, b"\x03")  # Ctrl-C
            assert wait_for(lambda times=times: len(seen(tmp_path)) >= times, 5)
            time.sleep(0.05)  # a second one, if sent, would be here by now
            assert seen(tmp_path) == [f"SIGINT:{sender}"] * times
        monitor.send_signal(signal.SIGTERM)  # from a process, not the terminal: forwarded
        assert monitor.wait(10) == 0
    finally:
        monitor.kill()
        monitor.wait()
        os.close(primary)
    assert seen(tmp_path)[-1] == f"SIGTERM:{monitor.pid}"


def test_a_shell_runs_only_when_asked(collector, tmp_path: Path) -> None:
    script = "echo $((1 + 2)); exit 5"
    result = run(options(collector, "--start-timeout", "0", "--shell"), None, tmp_path, command=[script])
    assert (result.returncode, result.stdout) == (5, b"3\n")
    result = run(options(collector, "--start-timeout", "0"), None, tmp_path, command=[script])
    assert result.returncode == 127  # no shell: the whole text is the name of a program


@pytest.mark.parametrize(
    ("argv", "status", "said"),
    [
        (["--app", "svc", "--check", "--", "sleep", "5"], 0, b"numbat-run: arguments ok\n"),
        (["--app", "svc", "--shell", "--check", "--", "sleep 5 && false"], 0, b"numbat-run: arguments ok\n"),
        (["--app", "svc", "--check", "--", "no-such-command-here"], 2, b"not found, or not executable"),
        (["--app", "svc", "--interval", "0", "--check", "--", "sleep"], 2, b"interval must be positive"),
        (["--app", "svc", "--uri", "gopher://x", "--check", "--", "sleep"], 2, b"gopher"),
    ],
)
def test_check_runs_nothing_and_says_whether_the_arguments_are_good(
    tmp_path: Path, argv: list[str], status: int, said: bytes
) -> None:
    """``--check`` is what a deployment runs before it restarts the service (deploy/ansible/):
    the child is never started (sleep would outlast the timeout), and a bad argument, or a
    command that cannot be found, is exit status 2 with its reason."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "monitor", *argv], cwd=tmp_path, env=env(), capture_output=True, timeout=30
    )
    assert result.returncode == status, result.stderr
    assert said in (result.stdout if status == 0 else result.stderr)
    assert time.monotonic() - started < 4  # sleep 5 never ran
