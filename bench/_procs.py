"""What the benches read of a process from /proc: its CPU time and its memory.

Shared by the benches so that every table measures a process the same way: CPU is the
process's own user + system time (its children not included), memory is read from
``/proc/PID/status`` (``VmRSS`` now, ``VmHWM`` the peak resident size of its life).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` alone."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_mb(pid: int, key: str = "VmRSS") -> float:
    """A memory figure of ``/proc/PID/status`` in MB (MiB): ``VmRSS``, ``VmHWM``..."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def peak_rss_mb(pid: int) -> float:
    """The most memory ``pid`` has held resident so far: read it just before it ends."""
    return memory_mb(pid, "VmHWM")


def pin(pid: int, cpu: int) -> None:
    """Keep a process, every thread of it, on one CPU: a server on one core, its clients
    on the other, so that the two do not take turns on one."""
    for thread in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(thread), {cpu})


def settle(pid: int, timeout: float) -> None:
    """Wait for a server's background work from the last run (compactions, writes to
    disk) to end, so that no run pays for the one before it: until it spends less than
    20 ms of CPU in half a second, or ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    before = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        if now - before < 0.02:
            return
        before = now


def cpu_wait_seconds(pid: int) -> float:
    """How long the threads of ``pid`` were ready to run but waited for a CPU taken by
    others (``/proc/PID/task/*/schedstat``, the run-queue delay), in all: what a busy
    machine costs a process, beside its own CPU time. Threads that ended are not counted."""
    total = 0
    for thread in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(Path(f"/proc/{pid}/task/{thread}/schedstat").read_text().split()[1])
        except (OSError, IndexError):  # the thread ended meanwhile
            continue
    return total / 1e9
