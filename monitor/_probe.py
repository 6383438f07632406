"""Reading the child's processes and the host with psutil, for the core to turn into events.

The tree is the child and its descendants. Its members are found through the kernel's
``/proc/PID/task/TID/children`` lists, which cost a few reads per process of the tree
whatever the host runs; psutil's own ``children()`` reads every process on the host to
build a parent map (4.7 ms for 105 processes here, 45 ms for a thousand: too much every
5 s), so it is only the fallback where the kernel has no such lists. A process that
exits while it is read, or that numbat-run may not read, is left out of that reading:
nothing here raises for it.
"""

from __future__ import annotations

import os

import psutil

from .core import HostUsage, TreeUsage

_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied, ProcessLookupError, PermissionError)


def _children_lists_exist() -> bool:
    own = os.getpid()
    return os.path.exists(f"/proc/{own}/task/{own}/children")


def _children_from_proc(pid: int) -> list[int]:
    """The children of every thread of ``pid``, from the kernel's lists."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as listing:
                found.extend(int(child) for child in listing.read().split())
        except OSError:
            continue
    return found


class TreeProbe:
    """The child's process tree, read on demand; psutil's Process objects kept by PID."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._known: dict[int, psutil.Process] = {}
        self._from_proc = _children_lists_exist()
        self._root = self._process(pid)

    def _process(self, pid: int) -> psutil.Process | None:
        process = self._known.get(pid)
        if process is None:
            try:
                process = psutil.Process(pid)
            except _GONE:
                return None
            self._known[pid] = process
        return process

    def processes(self) -> list[psutil.Process]:
        """The child and its live descendants, the child first."""
        if self._root is None:
            return []
        if not self._from_proc:
            try:
                return [self._root, *self._root.children(recursive=True)]
            except _GONE:
                return [self._root]
        pids: list[int] = []
        frontier = [self.pid]
        seen = {self.pid}
        while frontier:
            pid = frontier.pop()
            pids.append(pid)
            for child in _children_from_proc(pid):
                if child not in seen:
                    seen.add(child)
                    frontier.append(child)
        for gone in self._known.keys() - seen:
            del self._known[gone]
        return [process for pid in pids if (process := self._process(pid)) is not None]

    def usage(self, now: float) -> TreeUsage:
        """One reading of the whole tree at ``now`` (monotonic seconds)."""
        cpu = 0.0
        rss = threads = fds = count = 0
        for process in self.processes():
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    memory = process.memory_info()
                    process_threads = process.num_threads()
                    process_fds = process.num_fds()
            except _GONE:
                continue
            cpu += times.user + times.system + times.children_user + times.children_system
            rss += memory.rss
            threads += process_threads
            fds += process_fds
            count += 1
        return TreeUsage(at=now, cpu_seconds=cpu, rss_bytes=rss, threads=threads, fds=fds, processes=count)

    def listening_ports(self) -> frozenset[int]:
        """TCP ports (IPv4 and IPv6) any process of the tree listens on."""
        ports: set[int] = set()
        for process in self.processes():
            try:
                connections = process.net_connections(kind="tcp")
            except _GONE:
                continue
            ports.update(c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN and c.laddr)
        return frozenset(ports)

    def kill_all(self) -> None:
        """SIGKILL to the child and every descendant, all found before the first is sent
        (psutil checks that each PID is still the process it read, so a reused PID is
        never hit)."""
        for process in self.processes():
            try:
                process.kill()
            except _GONE:
                continue


def host_usage(disk_path: str) -> HostUsage:
    load1, load5, load15 = os.getloadavg()
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(disk_path)
    used = (memory.total - memory.available) / memory.total if memory.total else 0.0
    disk_used = disk.used / (disk.used + disk.free) if disk.used + disk.free else 0.0
    return HostUsage(
        load1=load1, load5=load5, load15=load15, memory_used=used, disk_used=disk_used, disk_path=disk_path
    )
