"""What a metric costs the service that sends it: numbat's metric() against the PyPI
statsd client's incr() and prometheus-client's Counter.inc(), in one run.

    python bench/emitter.py [--samples 31] [--calls 20000] [--seconds 0.5] [--rounds 9]

Part 1, per call. "caller CPU" is the CPU time of the calling thread alone
(time.thread_time); "wall" adds waits for the GIL while our sender thread works;
"process CPU" charges everything, our sender thread's encoding and sending included,
until the emitter has sent every event: the emitter's whole cost. Every client is
called through the same kind of lambda, so the loop costs each the same. "gc1+2/100k":
collections of the garbage collector's older generations per 100k calls (mean of the
samples), which records that stay tracked while queued would drive up.

Part 2, a service. A CPU-bound loop of small pure-Python work units emits 100k events
per second of its own CPU time (after each unit, the events due by then), for --seconds
of it. Everything is counted in CPU time, the process's (our sender thread's included),
so that other programs on a busy machine change neither the rate nor the result:
"work units/CPU s" against the same loop sending nothing is how much the service slows,
and "cost per event" is the process's CPU time not spent on work units, per event.
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# This script shares its name with the package it measures: keep its folder off the path,
# and put its checkout first, so that a worktree measures its own emitter, not the one the
# virtualenv's editable install points at.
HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import prometheus_client  # noqa: E402
import statsd  # noqa: E402

import emitter  # noqa: E402
from emitter import Emitter  # noqa: E402

RATE = 100_000  #: events/s the service of part 2 sends


def sample(
    call: Callable[[], object], calls: int, flush: Callable[[], object]
) -> tuple[float, float, float, float, float]:
    """One sample: (caller CPU, wall, process CPU) in ns per call, and the garbage
    collections of generations 1 and 2 it caused, per 100k calls. The process CPU runs
    until the emitter has sent everything, so it includes the sender's work."""
    loop = range(calls)
    flush()
    gc0 = gc.get_stats()
    p0, t0, w0 = time.process_time_ns(), time.thread_time_ns(), time.perf_counter_ns()
    for _ in loop:
        call()
    t1, w1 = time.thread_time_ns(), time.perf_counter_ns()
    flush()
    p1 = time.process_time_ns()
    gc1 = gc.get_stats()
    older = [
        (after["collections"] - before["collections"]) * 100_000 / calls for before, after in zip(gc0, gc1, strict=True)
    ]
    return (t1 - t0) / calls, (w1 - w0) / calls, (p1 - p0) / calls, older[1], older[2]


def work_unit() -> int:
    """About ten microseconds of a service's own pure-Python work (on a 2020s server)."""
    total = 0
    for i in range(300):
        total += i * i % 7
    return total


def service(emit: Callable[[], object] | None, seconds: float) -> tuple[int, int, float]:
    """Run the loop for ``seconds`` of its CPU time: (work units, events, its CPU seconds)."""
    clock = time.thread_time
    start = clock()
    end = start + seconds
    units = sent = 0
    now = start
    while now < end:
        work_unit()
        units += 1
        now = clock()
        if emit is not None:
            due = int((now - start) * RATE) - sent
            for _ in range(due):
                emit()
            sent += due
    return units, sent, clock() - start


def per_call(
    args: argparse.Namespace, port: int
) -> tuple[list[tuple[str, float, float, float, float, float]], Emitter]:
    numbat = Emitter(f"udp://127.0.0.1:{port}", app="bench", max_backlog=10_000_000)
    remote = Emitter(f"udp://127.0.0.1:{port}", app="bench", max_backlog=10_000_000, datagram_size=1432)
    statsd_client = statsd.StatsClient("127.0.0.1", port, prefix="bench")
    registry = prometheus_client.CollectorRegistry()
    counter = prometheus_client.Counter("bench_requests", "requests", registry=registry)
    labelled = prometheus_client.Counter("bench_labelled", "requests", ["status"], registry=registry)

    def drain() -> None:
        numbat.flush(timeout=60)
        remote.flush(timeout=60)

    rows: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        ("numbat metric(name, value)", lambda: numbat.metric("latency", 30), drain),
        ("numbat metric(name, value, status=)", lambda: numbat.metric("latency", 30, status="ok"), drain),
        ("  the same, 1432-byte datagrams", lambda: remote.metric("latency", 30, status="ok"), drain),
        ("statsd StatsClient.incr(name)", lambda: statsd_client.incr("latency"), lambda: None),
        ("prometheus Counter.inc()", lambda: counter.inc(), lambda: None),  # noqa: PLW0108 - as the others
        ("prometheus labels(status=).inc()", lambda: labelled.labels(status="ok").inc(), lambda: None),
    ]
    # Round-robin: every client sees the same machine noise in each round.
    samples: dict[str, list[tuple[float, float, float, float, float]]] = {label: [] for label, _, _ in rows}
    for round_number in range(args.samples + 1):
        for label, call, flush in rows:
            measured = sample(call, args.calls, flush)
            if round_number:  # round 0 warms caches and the name cache
                samples[label].append(measured)
    remote.close()
    results = []
    for label, _, _ in rows:
        caller, wall, process, gen1, gen2 = zip(*samples[label], strict=True)
        results.append(
            (
                label,
                *(statistics.median(column) for column in (caller, wall, process)),
                statistics.fmean(gen1),  # rare events: a median would say 0
                statistics.fmean(gen2),
            )
        )
    return results, numbat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=31)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=0.5, help="each run of the service loop")
    parser.add_argument("--rounds", type=int, default=9, help="runs of the service loop per client")
    args = parser.parse_args()

    # A bound UDP socket nobody reads: sends succeed, the kernel discards the overflow.
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]

    results, numbat = per_call(args, port)
    statsd_caller, statsd_process = results[3][1], results[3][3]
    print(f"median of {args.samples} samples x {args.calls} calls, ns per call (Python {sys.version.split()[0]})")
    print(f"emitter measured: {Path(emitter.__file__).parent}")
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    header = (
        f"{'client / call':37} {'caller CPU':>11} {'wall':>7} {'process CPU':>12}"
        f" {'statsd/this caller':>19} {'process':>8} {'gc1+2/100k':>11}"
    )
    print(header)
    print("-" * len(header))
    for label, caller, wall, process, gen1, gen2 in results:
        print(
            f"{label:37} {caller:11.0f} {wall:7.0f} {process:12.0f}"
            f" {statsd_caller / caller:18.1f}x {statsd_process / process:7.1f}x {gen1:6.1f}+{gen2:<4.1f}"
        )
    stats = numbat.stats()
    print(f"numbat emitter: sent {stats.sent}, dropped {stats.dropped}, batches {stats.batches}")

    statsd_client = statsd.StatsClient("127.0.0.1", port, prefix="bench")
    clients: list[tuple[str, Callable[[], object] | None]] = [
        ("nothing sent", None),
        ("numbat metric(name, value)", lambda: numbat.metric("latency", 30)),
        ("numbat metric(name, value, status=)", lambda: numbat.metric("latency", 30, status="ok")),
        ("statsd StatsClient.incr(name)", lambda: statsd_client.incr("latency")),
    ]
    # Per run: work units, events, the loop's CPU seconds, the process's CPU seconds.
    runs: dict[str, list[tuple[int, int, float, float]]] = {label: [] for label, _ in clients}
    for _ in range(args.rounds):
        for label, emit in clients:
            numbat.flush(timeout=60)
            cpu = time.process_time()
            units, events, loop_cpu = service(emit, args.seconds)
            numbat.flush(timeout=60)  # the sender's work for these events counts
            runs[label].append((units, events, loop_cpu, time.process_time() - cpu))
    # Each round's runs against that round's run sending nothing: on a shared machine the
    # speed of a work unit drifts, and a few percent of it is most of an event's cost.
    bare_unit = [cpu / units for units, _, _, cpu in runs["nothing sent"]]
    unit_cpu = statistics.median(bare_unit)
    print(
        f"\na service's CPU-bound loop sending {RATE // 1000}k events per CPU second, median of {args.rounds}"
        f" runs of {args.seconds:g} s ({unit_cpu * 1e6:.1f} µs of CPU a work unit)"
    )
    header = f"{'client':37} {'work units/CPU s':>17} {'events/s':>9} {'slowdown':>9} {'cost per event':>15}"
    print(header)
    print("-" * len(header))
    for label, emit in clients:
        rate = statistics.median(units / cpu for units, _, _, cpu in runs[label])
        events = statistics.median(events / loop_cpu for _, events, loop_cpu, _ in runs[label])
        slowdown = statistics.median(
            1 - units / cpu * unit for (units, _, _, cpu), unit in zip(runs[label], bare_unit, strict=True)
        )
        # The process's CPU not spent on work units, per event sent.
        cost = ""
        if emit is not None:
            per_event = statistics.median(
                (cpu - units * unit) / events
                for (units, events, _, cpu), unit in zip(runs[label], bare_unit, strict=True)
            )
            cost = f"{per_event * 1e9:12.0f} ns"
        print(f"{label:37} {rate:17.0f} {events:9.0f} {slowdown:8.1%} {cost:>15}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    numbat.close()
    sink.close()


if __name__ == "__main__":
    main()
