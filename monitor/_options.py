"""numbat-run's settings: every bound named, with its default, checked once."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class RunOptions:
    command: tuple[str, ...]
    app: str
    uri: str = "udp://127.0.0.1:3333"
    node: str | None = None
    #: Seconds between readings of the child's processes (and of the host).
    interval: float = 5.0
    #: Seconds between heartbeats; each carries a ttl of three of them.
    heartbeat: float = 30.0
    #: Run COMMAND through /bin/sh -c.
    shell: bool = False
    #: Send the child's output lines as events (its output is then read through pipes).
    logs: bool = False
    #: Send the host's load, memory and disk use every interval.
    host_metrics: bool = False
    #: The disk whose use --host-metrics reports: the file system holding this path.
    disk_path: str = "/"
    #: Seconds to wait for the child to listen on a TCP port before a start warning; 0: do not wait.
    start_timeout: float = 30.0
    #: Seconds a child may take to exit after SIGTERM or SIGINT before it (and its processes) get SIGKILL.
    stop_timeout: float = 10.0
    #: The most bytes a log line takes in its event, as JSON (escapes included); longer ones are cut.
    log_line_bytes: int = 1024
    #: Log lines sent per second on average; past it lines are dropped and counted.
    log_rate: float = 100.0
    #: Log lines that may be sent at once, beyond the rate.
    log_burst: int = 200
    #: Lines of output kept for a start warning, and the most bytes (as JSON) it carries of them.
    tail_lines: int = 20
    tail_bytes: int = 1024
    #: Seconds to wait, after the child exited, for the last of its output (a process it
    #: started may hold its pipes open).
    drain_timeout: float = 1.0
    #: Seconds to wait, at the end, for the last events to reach the collector.
    flush_timeout: float = 2.0

    def __post_init__(self) -> None:
        if not self.command or not self.command[0]:
            raise ValueError("a command to run is needed")
        if not self.app:
            raise ValueError("app must name the service")
        for name in ("interval", "heartbeat", "log_rate", "drain_timeout", "flush_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("start_timeout", "stop_timeout"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.log_line_bytes < 64 or self.tail_bytes < 64:
            raise ValueError("log_line_bytes and tail_bytes must be at least 64")
        if self.log_burst < 1 or self.tail_lines < 1:
            raise ValueError("log_burst and tail_lines must be at least 1")

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
