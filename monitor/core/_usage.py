"""What the shell reads of the child's processes and of the host, and the CPU rate.

A :class:`TreeUsage` is one reading of the child and every process it started, summed:
CPU seconds (user and system, of the live processes and of the children each has reaped,
so that the time of a finished worker is not lost), resident memory, threads and open
file descriptors. The CPU percentage of an interval is the difference of two readings'
CPU seconds over the seconds between them (100 is one core busy); a reading whose sum
fell (a process exited unreaped, its time gone with it) gives 0 for that interval rather
than a negative rate.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TreeUsage:
    at: float  #: monotonic seconds when read
    cpu_seconds: float
    rss_bytes: int
    threads: int
    fds: int
    processes: int  #: the child and its descendants that could be read


@dataclass(frozen=True, slots=True)
class HostUsage:
    load1: float
    load5: float
    load15: float
    memory_used: float  #: fraction of physical memory in use (not available), 0..1
    disk_used: float  #: fraction of the disk holding ``disk_path`` in use, 0..1
    disk_path: str


def cpu_percent(previous_cpu: float, previous_at: float, usage: TreeUsage) -> float:
    """Percent of one core the tree used since the previous reading (or since the spawn,
    with 0 CPU seconds)."""
    elapsed = usage.at - previous_at
    if elapsed <= 0:
        return 0.0
    return max(0.0, usage.cpu_seconds - previous_cpu) / elapsed * 100.0


class CpuRate:
    """Keeps the previous reading; starts from the spawn, when the child had used nothing."""

    __slots__ = ("_at", "_cpu")

    def __init__(self, spawned_at: float) -> None:
        self._cpu = 0.0
        self._at = spawned_at

    def percent(self, usage: TreeUsage) -> float:
        value = cpu_percent(self._cpu, self._at, usage)
        self._cpu, self._at = usage.cpu_seconds, usage.at
        return value
