"""The prometheus sink's costs: events folded into the page, the page written, the page
scraped from a real numbatd, in one run.

    python bench/sinks_prometheus.py [--seconds 2] [--series 100000] [--events 300000]

Rows:

- "absorb": the sink alone, in this process, events already decoded (what a write()
  costs): events/s and CPU per event, for statsd counters with two tags, untyped gauges,
  timers as histograms and as summaries, over 1,000 series.
- "render": the page of ``--series`` gauges, each with two labels, written by the sink,
  against prometheus-client's ``generate_latest`` writing the same series (its registry
  needs one label set per family, which these have): milliseconds, bytes; and gzip.
- "numbatd": a real numbatd whose one sink is prometheus, fed ``--events`` statsd
  counter lines over TCP: events/s until its page showed every one, numbatd's CPU per
  event (decoding included); then the time of a GET of a page of ``--series`` series,
  plain and gzipped, as Prometheus scrapes it (rendered for each GET, as for each scrape).

There is no peer to run beside it here: statsd_exporter is in no package this machine
installs. :func:`measure` returns the rows, for bench/sinks.py to show beside the others.
"""

from __future__ import annotations

import argparse
import gzip
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/ must not shadow packages
sys.path.insert(0, str(HERE.parent))  # the test helpers that start numbatd

from prometheus_client import CollectorRegistry, Gauge, generate_latest  # noqa: E402

from bench._procs import cpu_seconds, peak_rss_mb  # noqa: E402
from collector.sinks.prometheus._exposition import render  # noqa: E402
from tests.collector.exposition import prometheus_sink  # noqa: E402
from tests.collector.numbatd import Numbatd, free_port  # noqa: E402
from tests.waiting import wait_for  # noqa: E402

Row = dict[str, Any]


def row(case: str, **values: Any) -> Row:
    return {"sink": "prometheus", "case": case, **values}


# -- the sink alone ----------------------------------------------------------------------------


def workloads(n: int) -> dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(sink keys, events) per case: 1,000 series each."""
    tags = [{"host": f"web-{i % 10}", "route": f"/r{i % 100 // 10}"} for i in range(n)]
    return {
        "statsd counters, 2 tags": (
            {},
            [{"name": f"api.c{i % 10}", "value": 1, "time": 0, "statsd_type": "c", **tags[i]} for i in range(n)],
        ),
        "untyped gauges (numbat), 2 fields": (
            {},
            [{"name": f"app.g{i % 10}", "value": i * 0.5, "time": 0, **tags[i]} for i in range(n)],
        ),
        "statsd timers as histograms": (
            {"observer_type": "histogram"},
            [{"name": f"api.t{i % 10}", "value": i % 700, "time": 0, "statsd_type": "ms", **tags[i]} for i in range(n)],
        ),
        "statsd timers as summaries": (
            {"observer_type": "summary"},
            [{"name": f"api.t{i % 10}", "value": i % 700, "time": 0, "statsd_type": "ms", **tags[i]} for i in range(n)],
        ),
    }


def absorb_rows(seconds: float) -> list[Row]:
    rows = []
    for case, (options, events) in workloads(100_000).items():
        sink = prometheus_sink(**options)
        sink.absorber.absorb(events[:2_000], 0.0, {})  # the series exist: what follows is steady state
        done, cpu = 0, 0.0
        deadline = time.monotonic() + seconds / 4
        while time.monotonic() < deadline:
            started = time.process_time()
            sink.absorber.absorb(events, 1.0, {})
            cpu += time.process_time() - started
            done += len(events)
        rows.append(row(f"absorb: {case}", events_per_s=done / cpu, cpu_us_per_event=cpu / done * 1e6))
    return rows


# -- the page ---------------------------------------------------------------------------------------


def timed(function: Any, rounds: int = 3, after: float = 0.0) -> tuple[float, Any]:
    """Median seconds of ``function()`` (less ``after`` seconds it waits first) and its last result."""
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started - after)
    return statistics.median(times), result


def render_rows(series: int) -> list[Row]:
    sink = prometheus_sink(max_series=series)
    sink.absorber.absorb(
        [
            {"name": f"m{i % 100}", "value": i * 0.5, "time": 0, "host": f"h{i // 100}", "route": "/r"}
            for i in range(series)
        ],
        0.0,
        {},
    )
    ours, page = timed(lambda: render(sink.store.ordered(), 0.0))
    registry = CollectorRegistry()
    gauges = [Gauge(f"m{i}", "help", ["host", "route"], registry=registry) for i in range(100)]
    for i in range(series):
        gauges[i % 100].labels(f"h{i // 100}", "/r").set(i * 0.5)
    theirs, their_page = timed(lambda: generate_latest(registry))
    zipped, compressed = timed(lambda: gzip.compress(page, 1))
    return [
        row(f"render {series:,} series: numbat's writer", ms=ours * 1e3, bytes=len(page), vs_peer=theirs / ours),
        row(f"render {series:,} series: prometheus-client", ms=theirs * 1e3, bytes=len(their_page), vs_peer=1.0),
        row("gzip (level 1) of that page", ms=zipped * 1e3, bytes=len(compressed)),
    ]


# -- a real numbatd ---------------------------------------------------------------------------


def scrape(url: str, gzipped: bool) -> bytes:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzipped else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


def page_total(url: str, name: str) -> float:
    total = 0.0
    for line in scrape(url, False).decode().splitlines():
        if line.startswith(name):
            total += float(line.rpartition(" ")[2])
    return total


def numbatd_rows(events: int, series: int) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        listen, page_port = free_port(), free_port()
        daemon = Numbatd(
            workdir,
            f'[[listeners]]\nurl = "tcp://127.0.0.1:{listen}"\nformat = "statsd"\n'
            f'[[sinks]]\ntype = "prometheus"\nlisten = "127.0.0.1:{page_port}"\nmax_series = {series + 10}\n'
            f'queue_size = 200000\noverflow = "block"\n',
        ).start()
        url = f"http://127.0.0.1:{page_port}/metrics"
        try:
            lines = b"".join(b"bench.c%d:1|c|#host:web-%d\n" % (i % 100, i % 10) for i in range(events))
            before = cpu_seconds(daemon.process.pid)  # type: ignore[union-attr]
            started = time.perf_counter()
            with socket.create_connection(("127.0.0.1", listen)) as sock:
                sock.sendall(lines)
            assert wait_for(lambda: page_total(url, "bench_c") >= events, 300, interval=0.05)
            elapsed = time.perf_counter() - started
            cpu = cpu_seconds(daemon.process.pid) - before  # type: ignore[union-attr]
            rows.append(
                row(
                    "numbatd: statsd over TCP, onto the page",
                    events_per_s=events / elapsed,
                    cpu_us_per_event=cpu / events * 1e6,
                )
            )
            many = b"".join(b"page.s%d:%d|g|#host:web-%d\n" % (i % 100, i, i // 100) for i in range(series))
            with socket.create_connection(("127.0.0.1", listen)) as sock:
                sock.sendall(many)
            assert wait_for(lambda: daemon.metric("numbat_sink_series") >= series, 300, interval=0.2)
            for gzipped in (False, True):
                # past the second a rendered page is reused: each GET renders, as each scrape does
                seconds, body = timed(
                    lambda gzipped=gzipped: time.sleep(1.1) or scrape(url, gzipped), rounds=5, after=1.1
                )
                how = "gzipped" if gzipped else "plain"
                rows.append(row(f"numbatd: GET of {series:,} series, {how}", ms=seconds * 1e3, bytes=len(body)))
            peak = peak_rss_mb(daemon.process.pid)  # type: ignore[union-attr]
            rows.append(row(f"numbatd: its peak RSS, {series:,} series on the page", peak_mb=peak))
        finally:
            daemon.stop()
    return rows


def measure(seconds: float, series: int = 100_000, events: int = 300_000) -> list[Row]:
    """Every row above; ``seconds`` is about how long the in-process cases run in all."""
    return [*absorb_rows(seconds), *render_rows(series), *numbatd_rows(events, series)]


def print_rows(rows: list[Row]) -> None:
    header = f"{'prometheus sink':52} {'events/s':>10} {'CPU us/ev':>10} {'ms':>8} {'bytes':>11} {'vs peer':>8}"
    print(f"{header} {'peak MB':>8}")
    for item in rows:
        cells = [
            f"{item['events_per_s']:10,.0f}" if "events_per_s" in item else f"{'':>10}",
            f"{item['cpu_us_per_event']:10.2f}" if "cpu_us_per_event" in item else f"{'':>10}",
            f"{item['ms']:8.1f}" if "ms" in item else f"{'':>8}",
            f"{item['bytes']:11,}" if "bytes" in item else f"{'':>11}",
            f"{item['vs_peer']:7.2f}x" if "vs_peer" in item else f"{'':>8}",
            f"{item['peak_mb']:8.1f}" if "peak_mb" in item else f"{'':>8}",
        ]
        print(f"{item['case']:52} {' '.join(cells)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="the in-process cases, in all")
    parser.add_argument("--series", type=int, default=100_000, help="series on the page rendered and scraped")
    parser.add_argument("--events", type=int, default=300_000, help="statsd lines sent to numbatd")
    args = parser.parse_args()
    print_rows(measure(args.seconds, args.series, args.events))


if __name__ == "__main__":
    main()
