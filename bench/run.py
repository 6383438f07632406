"""numbat-run's own cost while it watches a busy child, beside the same command run bare.

    python bench/run.py [--seconds 30] [--interval 5]

The child is a Python program that works in bursts (10 ms of arithmetic, 10 ms of sleep:
half a core) and counts the bursts it completes; in the ``--logs`` rows it also prints a
line per burst (about 50 lines a second). Each row runs it for ``--seconds``: bare, then
under numbat-run at ``--interval`` (and at 1 s, for scale), with and without ``--logs``.
numbat-run sends to a UDP socket of 127.0.0.1 that nobody reads (sends succeed, as to a
collector). Measured from /proc once numbat-run has started (its start-up is not in the
rates): numbat-run's own CPU (its process alone, not the child's) as percent of one
core, its RSS at the end and its peak RSS (VmHWM); the child's CPU, and its bursts a
second, which should not move beyond noise when it is watched (the bare run is
repeated to show the noise). Goal (issue 18): at most
20 MB and 1 % of a core at a 5-second interval.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench._procs

from bench._procs import cpu_seconds, memory_mb  # noqa: E402

CHILD = """
    import os, signal, sys, time
    logs = sys.argv[1] == "logs"
    bursts = 0
    stop = False
    def finish(*_):
        global stop
        stop = True
    signal.signal(signal.SIGTERM, finish)
    while not stop:
        end = time.perf_counter() + 0.010
        x = 0
        while time.perf_counter() < end:
            x += 1
        bursts += 1
        if logs:
            print(f"burst {bursts} done with {x} steps", flush=True)
        time.sleep(0.010)
    cpu = time.process_time()
    open(sys.argv[2], "w").write(f"{bursts} {cpu}")
"""


@dataclass
class Row:
    name: str
    seconds: float
    monitor_cpu: float | None = None  #: percent of one core
    monitor_rss: float | None = None  #: MB
    monitor_peak: float | None = None  #: MB
    child_cpu: float = 0.0  #: percent of one core
    bursts: float = 0.0  #: a second


def child_pid_of(pid: int) -> int:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(children[0])


def run_row(name: str, monitor: list[str] | None, logs: bool, seconds: float, folder: Path) -> Row:
    result = folder / f"{name.replace(' ', '_')}.result"
    child = [sys.executable, "-c", textwrap.dedent(CHILD), "logs" if logs else "quiet", str(result)]
    argv = [*monitor, "--", *child] if monitor else child
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, env=env)
    row = Row(name, seconds)
    try:
        time.sleep(1.0)  # past start-up: imports, the spawn, the first start checks
        cpu_before, began = (cpu_seconds(process.pid), time.monotonic()) if monitor else (0.0, time.monotonic())
        time.sleep(seconds)
        if monitor:
            elapsed = time.monotonic() - began
            row.monitor_cpu = (cpu_seconds(process.pid) - cpu_before) / elapsed * 100
            row.monitor_rss = memory_mb(process.pid, "VmRSS")
            row.monitor_peak = memory_mb(process.pid, "VmHWM")
        process.send_signal(signal.SIGTERM)  # numbat-run forwards it
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    bursts, child_cpu = result.read_text().split()
    lifetime = seconds + 1.0
    row.child_cpu = float(child_cpu) / lifetime * 100
    row.bursts = int(bursts) / lifetime
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per row (default 30)")
    parser.add_argument("--interval", type=float, default=5.0, help="numbat-run's interval (default 5)")
    args = parser.parse_args()
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    uri = f"udp://127.0.0.1:{sink.getsockname()[1]}"

    def monitor(interval: float, *more: str) -> list[str]:
        return [sys.executable, "-m", "monitor", "--uri", uri, "--app", "bench", "--interval", str(interval), *more]

    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"numbat-run-bench-{os.getpid()}"
    folder.mkdir()
    interval = f"{args.interval:g} s"
    rows = [
        run_row("bare", None, False, args.seconds, folder),
        run_row(f"numbat-run, {interval}", monitor(args.interval, "--start-timeout", "0"), False, args.seconds, folder),
        run_row("numbat-run, 1 s", monitor(1.0, "--start-timeout", "0"), False, args.seconds, folder),
        run_row("bare, again (the noise)", None, False, args.seconds, folder),
        run_row("bare, printing", None, True, args.seconds, folder),
        run_row(
            f"numbat-run --logs, {interval}",
            monitor(args.interval, "--start-timeout", "0", "--logs"),
            True,
            args.seconds,
            folder,
        ),
    ]
    print(f"numbat-run watching a busy child (half a core), {args.seconds:g} s a row, {os.cpu_count()} cores")
    print()
    print("| run | numbat-run CPU (% of a core) | numbat-run RSS (MB) | peak RSS (MB) | child CPU (%) | bursts/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        cells = [
            f"{row.monitor_cpu:.2f}" if row.monitor_cpu is not None else "-",
            f"{row.monitor_rss:.1f}" if row.monitor_rss is not None else "-",
            f"{row.monitor_peak:.1f}" if row.monitor_peak is not None else "-",
            f"{row.child_cpu:.1f}",
            f"{row.bursts:.1f}",
        ]
        print(f"| {row.name} | " + " | ".join(cells) + " |")
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


if __name__ == "__main__":
    main()
