"""numbat-run's events, built from what the shell saw: pure functions, no clock, no I/O.

Each builder returns :class:`Metric` records, ``(name, value, fields)``, which the shell
hands to the emitter as they are (the emitter adds the ``app.`` prefix, the time, the
host and the node). Every event of a run carries the child's ``pid``, so that restarts
are told apart. The lifecycle events (spawn, start, heartbeat, exit, shutdown) carry a
``status`` and a ``description``; the readings do not.

The exit rule: ``exit`` is ``critical`` unless the child exited 0 or the stop was asked
for (numbat-run got SIGTERM or SIGINT); ``warning`` when it was asked for but the child
had to be killed after the stop timeout. ``shutdown`` follows every exit that is not
critical: the alerts' heartbeat rule stops watching a service that stopped cleanly, and
keeps watching (to open an incident) one that crashed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from ._start import NotStarted, Outcome
from ._usage import HostUsage, TreeUsage

Scalar = str | int | float | bool | None


class Metric(NamedTuple):
    name: str
    value: int | float
    fields: dict[str, Scalar]


#: The longest command line a spawn event carries, in characters.
COMMAND_CHARS = 256


def spawn(pid: int, command: str) -> Metric:
    shown = command if len(command) <= COMMAND_CHARS else command[: COMMAND_CHARS - 1] + "…"
    return Metric("spawn", 1, {"pid": pid, "command": shown, "status": "ok", "description": f"started as pid {pid}"})


def start(pid: int, outcome: Outcome, output: str | None) -> Metric:
    """``output``: the last lines of the child's output for a warning, None when it was
    not captured (numbat-run without ``--logs`` leaves the child's output alone)."""
    seconds = round(outcome.seconds, 3)
    if isinstance(outcome, NotStarted):
        if outcome.reason == "exited":
            description = f"exited after {seconds} s before it listened on a TCP port"
        else:
            description = f"not listening on a TCP port after {seconds} s"
        fields: dict[str, Scalar] = {"pid": pid, "ports": "", "status": "warning", "description": description}
        fields["output"] = output if output is not None else "(not captured: run numbat-run with --logs)"
        return Metric("start", seconds, fields)
    ports = ",".join(map(str, outcome.ports))
    if not outcome.waited:
        description = "started (not waiting for a port)"
    else:
        description = f"listening on {ports.replace(',', ', ')} after {seconds} s"
    return Metric("start", seconds, {"pid": pid, "ports": ports, "status": "ok", "description": description})


def usage(pid: int, reading: TreeUsage, cpu_percent: float, uptime: float) -> list[Metric]:
    """The readings of one interval: cpu (percent of one core), memory (RSS bytes),
    threads, fds, processes (the child and its descendants) and uptime (seconds)."""
    return [
        Metric("cpu", round(cpu_percent, 2), {"pid": pid}),
        Metric("memory", reading.rss_bytes, {"pid": pid}),
        Metric("threads", reading.threads, {"pid": pid}),
        Metric("fds", reading.fds, {"pid": pid}),
        Metric("processes", reading.processes, {"pid": pid}),
        Metric("uptime", round(uptime, 3), {"pid": pid}),
    ]


def heartbeat(pid: int, ttl_seconds: float) -> Metric:
    """``ttl`` in ms, as numbat's schema has it: when the next heartbeat is overdue."""
    return Metric("heartbeat", 1, {"pid": pid, "ttl": round(ttl_seconds * 1000), "status": "ok"})


def host(reading: HostUsage) -> list[Metric]:
    return [
        Metric("host.load1", reading.load1, {}),
        Metric("host.load5", reading.load5, {}),
        Metric("host.load15", reading.load15, {}),
        Metric("host.memory", round(reading.memory_used, 4), {}),
        Metric("host.disk", round(reading.disk_used, 4), {"path": reading.disk_path}),
    ]


def log_line(pid: int, stream: str, text: str, truncated: bool) -> Metric:
    fields: dict[str, Scalar] = {"pid": pid, "stream": stream, "line": text}
    if truncated:
        fields["truncated"] = True
    return Metric("log", 1, fields)


def log_dropped(pid: int, count: int) -> Metric:
    """Lines not sent since the last report because they came faster than the rate limit."""
    return Metric("log.dropped", count, {"pid": pid, "reason": "rate"})


@dataclass(frozen=True, slots=True)
class ChildExit:
    """How the child ended: an exit code, or a signal that killed it."""

    code: int | None = None
    signal: int | None = None
    signal_name: str | None = None

    @classmethod
    def from_returncode(cls, returncode: int, name_signal: Callable[[int], str]) -> ChildExit:
        """From ``Popen.returncode``: negative for a signal."""
        if returncode < 0:
            return cls(signal=-returncode, signal_name=name_signal(-returncode))
        return cls(code=returncode)

    @property
    def exit_status(self) -> int:
        """numbat-run's own exit status: the code, or 128 + the signal's number, as a shell says it."""
        return 128 + self.signal if self.signal is not None else self.code or 0

    def describe(self) -> str:
        if self.signal is not None:
            return f"killed by {self.signal_name or self.signal}"
        return f"exited with {self.code}"


@dataclass(frozen=True, slots=True)
class Stop:
    """What numbat-run did to stop the child, if anything."""

    asked_by: str | None = None  #: the signal numbat-run got (SIGTERM, SIGINT), None if none
    killed_after: float | None = None  #: seconds after which the child was sent SIGKILL, if it was


def exit_severity(ended: ChildExit, stop: Stop) -> str:
    if stop.asked_by is not None:
        return "warning" if stop.killed_after is not None else "ok"
    return "ok" if ended.code == 0 else "critical"


def exit_events(pid: int, ended: ChildExit, stop: Stop, uptime: float) -> list[Metric]:
    """``exit``, then ``shutdown`` unless the exit was critical."""
    severity = exit_severity(ended, stop)
    description = ended.describe()
    if stop.asked_by is not None:
        description += f" after {stop.asked_by}"
        if stop.killed_after is not None:
            description += f" (still running {stop.killed_after:g} s after it, so killed)"
    fields: dict[str, Scalar] = {"pid": pid, "status": severity, "description": description, "uptime": round(uptime, 3)}
    if ended.signal is not None:
        fields["signal"] = ended.signal_name or str(ended.signal)
    else:
        fields["code"] = ended.code
    events = [Metric("exit", ended.exit_status, fields)]
    if severity != "critical":
        events.append(Metric("shutdown", 1, {"pid": pid, "status": "ok", "description": "stopped cleanly"}))
    return events


def could_not_run(command: str, error: str, exit_status: int) -> Metric:
    """The command could not be started at all (not found: 127, not executable: 126)."""
    return Metric(
        "exit",
        exit_status,
        {"code": exit_status, "status": "critical", "description": f"could not run {command[:COMMAND_CHARS]}: {error}"},
    )
