"""What a metric costs the service that sends it: numbat's metric() against the PyPI
statsd client's incr() and prometheus-client's Counter.inc(), in one run.

    python bench/emitter.py [--samples 31] [--calls 20000]

"caller CPU" is the CPU time of the calling thread alone (time.thread_time), the cost
the issue asks about; "wall" adds waits for the GIL while our sender thread works;
"process CPU" charges everything, our sender thread's encoding and sending included.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# This script shares its name with the package it measures: keep its folder off the path.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import prometheus_client  # noqa: E402
import statsd  # noqa: E402

from emitter import Emitter  # noqa: E402


def sample(call: Callable[[], object], calls: int, flush: Callable[[], object]) -> tuple[float, float, float]:
    """One sample: (caller CPU, wall, process CPU) in ns per call. The process CPU
    runs until the emitter has sent everything, so it includes the sender's work."""
    loop = range(calls)
    flush()
    p0, t0, w0 = time.process_time_ns(), time.thread_time_ns(), time.perf_counter_ns()
    for _ in loop:
        call()
    t1, w1 = time.thread_time_ns(), time.perf_counter_ns()
    flush()
    p1 = time.process_time_ns()
    return (t1 - t0) / calls, (w1 - w0) / calls, (p1 - p0) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=31)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()

    # A bound UDP socket nobody reads: sends succeed, the kernel discards the overflow.
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]

    numbat = Emitter(f"udp://127.0.0.1:{port}", app="bench", max_backlog=10_000_000)
    statsd_client = statsd.StatsClient("127.0.0.1", port, prefix="bench")
    counter = prometheus_client.Counter("bench_requests", "requests", registry=prometheus_client.CollectorRegistry())

    def drain() -> None:
        numbat.flush(timeout=60)

    rows = [
        ("numbat metric(name, value)", lambda: numbat.metric("latency", 30), drain),
        ("numbat metric(name, value, status=)", lambda: numbat.metric("latency", 30, status="ok"), drain),
        ("statsd StatsClient.incr(name)", lambda: statsd_client.incr("latency"), lambda: None),
        ("prometheus Counter.inc()", counter.inc, lambda: None),
    ]
    # Round-robin: every client sees the same machine noise in each round.
    samples: dict[str, list[tuple[float, float, float]]] = {label: [] for label, _, _ in rows}
    for round_number in range(args.samples + 1):
        for label, call, flush in rows:
            measured = sample(call, args.calls, flush)
            if round_number:  # round 0 warms caches and the name cache
                samples[label].append(measured)
    results = [
        (label, *(statistics.median(column) for column in zip(*samples[label], strict=True))) for label, _, _ in rows
    ]
    statsd_caller = results[2][1]

    print(f"median of {args.samples} samples x {args.calls} calls, ns per call (Python {sys.version.split()[0]})")
    header = f"{'client / call':40} {'caller CPU':>11} {'wall':>9} {'process CPU':>12} {'statsd / this':>14}"
    print(header)
    print("-" * len(header))
    for label, caller, wall, process in results:
        print(f"{label:40} {caller:11.0f} {wall:9.0f} {process:12.0f} {statsd_caller / caller:13.1f}x")
    stats = numbat.stats()
    print(f"\nnumbat emitter: sent {stats.sent}, dropped {stats.dropped}, batches {stats.batches}")
    numbat.close()
    sink.close()


if __name__ == "__main__":
    main()
