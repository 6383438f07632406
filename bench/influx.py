"""numbatd's InfluxDB sink against posting line protocol straight to the same local
InfluxDB, and numbatd's line encoder against influxdb-client's Point, in one run.

    python bench/influx.py [--points 500000] [--rounds 3] [--no-pin]

Needs influxd (Debian's influxdb package; ./run-tests installs it). "direct" posts
pre-built batches of 5000 lines from this process, one request at a time; "numbatd"
is events sent over TCP as newline-delimited JSON, decoded, encoded and batched by
numbatd, timed until InfluxDB answered its sink's last request. Both write the same
points, each into a database of its own; each path first writes a warm-up batch
(another measurement) and starts its clock once InfluxDB is idle; the path that goes
first alternates by round. Each round's line says where its time went: each process's
CPU and its run-queue wait (ready to run while other work held its CPU). The encoder table
times, per point, Point, numbatd's LineEncoder on decoded events, and the path the sink
takes for events of known series: their JSON lines to line protocol, compiled, from lines
read again and from lines with the numbat listener's scan (what the sink meets).

On a small machine the kernel tends to run InfluxDB and whoever writes to it over
loopback on the same CPU, taking turns, which costs the two-process path (numbatd and
InfluxDB both busy) far more than the direct one; by default InfluxDB is pinned to CPU
1 and the clients (this process, numbatd) to CPU 0 in both paths. ``--no-pin`` shows
the unpinned figures.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/ must not shadow packages
sys.path.insert(0, str(HERE.parent))  # the test helpers that start influxd and numbatd

import orjson  # noqa: E402
import urllib3  # noqa: E402
from influxdb_client import Point, WritePrecision  # noqa: E402

from bench._procs import cpu_seconds, cpu_wait_seconds, peak_rss_mb, pin, settle  # noqa: E402
from collector.sinks.influxdb import LineEncoder  # noqa: E402
from collector.sinks.influxdb._transcoder import JsonLineTranscoder  # noqa: E402
from collector.wire import Batch, decoder_for  # noqa: E402
from collector.wire._numbat_scan import decode_scanned  # noqa: E402
from tests.collector.influxd import Influxd  # noqa: E402
from tests.collector.numbatd import Numbatd, free_port  # noqa: E402
from tests.waiting import wait_for  # noqa: E402

BASE_MS = 1_700_000_000_000
BATCH = 5000


def events(count: int, name: str) -> list[dict]:
    return [
        {
            "name": name,
            "value": i * 0.5,
            "time": BASE_MS + i,
            "host": f"web-{i % 4}",
            "node": "n1",
            "status": "ok" if i % 10 else "warning",
            "route": f"/r{i % 8}",
        }
        for i in range(count)
    ]


@dataclass
class Run:
    seconds: float
    influxd_cpu: float  #: seconds of CPU InfluxDB spent
    influxd_wait: float  #: seconds InfluxDB's threads were ready to run but waited for a CPU
    client_cpu: float  #: seconds of CPU this process, the client, spent: sending, on CPU 0
    numbatd_cpu: float = 0.0
    numbatd_wait: float = 0.0
    numbatd_rss: float = 0.0  #: numbatd's peak resident memory, MB


def direct(influxd: Influxd, encoder: LineEncoder, points: list[dict], warm_points: list[dict]) -> Run:
    """POST the points' lines, BATCH a request, one request at a time, as a plain client
    does; a first request of ``warm_points`` (another measurement) before the clock starts."""
    lines, warmup = ([encoder.encode(event)[1] for event in batch] for batch in (points, warm_points))  # type: ignore[index]
    pool = urllib3.PoolManager(retries=False)
    url = f"{influxd.url}/write?db=direct&precision=ms"

    def post(body: bytes) -> None:
        response = pool.request("POST", url, body=body, timeout=60)
        assert response.status == 204, response.data

    post("\n".join(warmup).encode())  # the connection open, as numbatd's is after its warm-up
    bodies = ["\n".join(lines[i : i + BATCH]).encode() for i in range(0, len(lines), BATCH)]
    settle(influxd.process.pid, 60.0)
    influxd_before = cpu_seconds(influxd.process.pid), cpu_wait_seconds(influxd.process.pid)
    client_before = time.process_time()
    started = time.perf_counter()
    for body in bodies:
        post(body)
    seconds = time.perf_counter() - started
    return Run(
        seconds,
        cpu_seconds(influxd.process.pid) - influxd_before[0],
        cpu_wait_seconds(influxd.process.pid) - influxd_before[1],
        time.process_time() - client_before,
    )


def through_numbatd(influxd: Influxd, workdir: Path, points: list[dict], warm_points: list[dict]) -> Run:
    """Send the events to a fresh numbatd as NDJSON over TCP; timed from the first byte
    sent to InfluxDB's answer to the sink's last request (numbatd's own clock).

    A warm-up of ``warm_points`` (another measurement) goes first and lands before the
    clock starts: numbatd's first read and first batch load compiled code from numba's
    cache, once in a daemon's life, which is no part of what a point costs it."""
    payload, warmup = (b"".join(orjson.dumps(event) + b"\n" for event in batch) for batch in (points, warm_points))
    count, warm = len(points), len(warm_points)
    workdir.mkdir()
    port = free_port()
    daemon = Numbatd(
        workdir,
        f'state_dir = "{workdir}/state"\n[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n'
        f'[[sinks]]\ntype = "influxdb"\napi = "v1"\nurl = "{influxd.url}"\ndatabase = "sink"\n'
        f'batch_size = {BATCH}\nflush_interval = 0.05\nqueue_size = 20000\noverflow = "block"\n',
    ).start()
    # Each scrape costs numbatd about 3 ms of CPU and this process 2 ms, both on numbatd's
    # CPU: ask twice a second, not more. The end is read from numbatd's clock, not from
    # when the scrape saw it.
    delivered = partial(daemon.metric, "numbat_sink_delivered_events_total")
    try:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(warmup)
            assert wait_for(lambda: delivered() >= warm, 60, interval=0.1), "the warm-up did not land"
            settle(influxd.process.pid, 60.0)
            influxd_pid, numbatd_pid = influxd.process.pid, daemon.process.pid
            influxd_before = cpu_seconds(influxd_pid), cpu_wait_seconds(influxd_pid)
            numbatd_before = cpu_seconds(numbatd_pid), cpu_wait_seconds(numbatd_pid)
            client_before = time.process_time()
            started = time.time()
            sock.sendall(payload)
            client_cpu = time.process_time() - client_before  # the scrapes after it are not the client's
            assert wait_for(lambda: delivered() >= warm + count, 300, interval=0.5), "not all delivered"
        run = Run(
            daemon.metric("numbat_sink_last_delivery_timestamp_seconds") - started,
            cpu_seconds(influxd_pid) - influxd_before[0],
            cpu_wait_seconds(influxd_pid) - influxd_before[1],
            client_cpu,
            cpu_seconds(numbatd_pid) - numbatd_before[0],
            cpu_wait_seconds(numbatd_pid) - numbatd_before[1],
            peak_rss_mb(numbatd_pid),
        )
        assert daemon.metric("numbat_sink_spooled_events_total") == 0
    finally:
        daemon.stop()
    return run


def cpu_per_point(function, items: list) -> float:
    samples = []
    for _ in range(5):
        started = time.process_time()
        for item in items:
            function(item)
        samples.append((time.process_time() - started) / len(items))
    return statistics.median(samples) * 1e6


def point_line(event: dict) -> str:
    point = Point(event["name"])
    for key in ("host", "node", "route", "status"):
        point.tag(key, event[key])
    return point.field("value", event["value"]).time(event["time"], WritePrecision.MS).to_line_protocol()


def print_runs(n: int, directs: list[Run], sinks: list[Run], placement: str) -> None:
    version = subprocess.run(["influxd", "version"], capture_output=True, text=True, check=False).stdout.split()[1]
    print(f"{n} points a run, batches of {BATCH}, InfluxDB {version}, {placement}")
    print(
        f"{len(directs)} rounds, the same points by each path into a database of its own, each path warmed up"
        " and started once InfluxDB went idle, the first path alternating; medians; all landed"
    )
    print(
        f"{'path':44} {'points/s':>10} {'vs direct':>10} {'influxd us/pt':>14} {'numbatd us/pt':>14}"
        f" {'numbatd peak RSS MB':>20}"
    )
    ratios = [d.seconds / s.seconds for d, s in zip(directs, sinks, strict=True)]
    for label, runs, ratio in (
        ("direct: pre-built line protocol POSTs", directs, 1.0),
        ("numbatd: NDJSON over TCP -> influxdb sink", sinks, statistics.median(ratios)),
    ):
        rate = statistics.median(n / run.seconds for run in runs)
        influxd_cpu = statistics.median(run.influxd_cpu for run in runs) / n * 1e6
        numbatd_cpu = statistics.median(run.numbatd_cpu for run in runs) / n * 1e6
        numbatd = f"{numbatd_cpu:14.2f}" if numbatd_cpu else f"{'-':>14}"
        peak = max(run.numbatd_rss for run in runs)
        rss = f"{peak:20.0f}" if peak else f"{'-':>20}"
        print(f"{label:44} {rate:10,.0f} {ratio:9.2f}x {influxd_cpu:14.2f} {numbatd} {rss}")
    print(f"{'(ratio of each round)':44} {'':>10} {' '.join(f'{r:.2f}' for r in ratios):>10}")
    print()
    print("each round, seconds: the run's wall time; each process's CPU; how long its threads waited for a CPU")
    print("(the run-queue delay: other work on the machine): InfluxDB's and the client's by path (d/n), numbatd's")
    print(
        f"{'round':>5} {'first':>7} {'ratio':>6} {'direct s':>9} {'numbatd s':>10} {'influxd CPU d/n':>16}"
        f" {'influxd wait d/n':>17} {'client CPU d/n':>15} {'numbatd CPU':>12} {'numbatd wait':>13}"
    )
    for index, (d, s) in enumerate(zip(directs, sinks, strict=True)):
        first = "direct" if index % 2 == 0 else "numbatd"
        print(
            f"{index:>5} {first:>7} {d.seconds / s.seconds:6.2f} {d.seconds:9.2f} {s.seconds:10.2f}"
            f" {f'{d.influxd_cpu:.2f} / {s.influxd_cpu:.2f}':>16} {f'{d.influxd_wait:.2f} / {s.influxd_wait:.2f}':>17}"
            f" {f'{d.client_cpu:.2f} / {s.client_cpu:.2f}':>15} {s.numbatd_cpu:12.2f} {s.numbatd_wait:13.2f}"
        )


def print_encoders(encoder: LineEncoder) -> None:
    """CPU per point of Point, the LineEncoder and the transcoder, on the same events."""
    sample = events(20_000, "bench.encoder")
    ours = cpu_per_point(encoder.encode_all, [sample]) / len(sample)
    theirs = cpu_per_point(point_line, sample)
    assert encoder.encode_all(sample)[0] == [point_line(e).encode() for e in sample]
    batch = Batch()
    decoder_for("numbat").decode([orjson.dumps(event) for event in sample], 0, batch)
    transcoder = JsonLineTranscoder(LineEncoder())
    assert transcoder.encode_all(batch.events, batch.raw)[0].body == b"\n".join(encoder.encode_all(sample)[0])
    transcoded = cpu_per_point(transcoder.encode_batch, [batch]) / len(sample)
    scanned = Batch()  # as numbatd's numbat listener hands them on: undecoded, with its scan
    decode_scanned(decoder_for("numbat"), [orjson.dumps(event) for event in sample], 0, scanned)
    assert transcoder.encode_batch(scanned)[0].body == b"\n".join(encoder.encode_all(sample)[0])
    transcoded_scanned = cpu_per_point(transcoder.encode_batch, [scanned]) / len(sample)

    print(f"{'encoder, CPU per point':44} {'us':>10} {'vs Point':>10}")
    print(f"{'influxdb-client Point.to_line_protocol()':44} {theirs:10.2f} {'1.0x':>10}")
    print(f"{'numbat LineEncoder.encode_all()':44} {ours:10.2f} {theirs / ours:9.1f}x")
    print(f"{'numbat JsonLineTranscoder, lines read again':44} {transcoded:10.2f} {theirs / transcoded:9.1f}x")
    sink_path = "numbat JsonLineTranscoder, scanned (sink)"
    print(f"{sink_path:44} {transcoded_scanned:10.2f} {theirs / transcoded_scanned:9.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=3, help="direct and numbatd runs, alternating (median)")
    parser.add_argument(
        "--no-pin", dest="pin", action="store_false", help="let the kernel place InfluxDB and its clients"
    )
    args = parser.parse_args()
    n = args.points
    encoder = LineEncoder()
    directs: list[Run] = []
    sinks: list[Run] = []
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        (workdir / "influxdb").mkdir()
        influxd = Influxd(workdir / "influxdb").start()
        pinned = args.pin and len(os.sched_getaffinity(0)) >= 2
        if pinned:  # InfluxDB on CPU 1; this process, and so numbatd, on CPU 0
            pin(influxd.process.pid, 1)
            pin(os.getpid(), 0)
        try:
            for db in ("direct", "sink"):
                influxd.create_database(db)
            for round_ in range(args.rounds):
                # the same points both ways, each into its own database
                measurement, warmup = f"bench.run{round_}", f"bench.warmup{round_}"
                points, warm_points = events(n, measurement), events(BATCH, warmup)

                # the first path alternates: neither always meets InfluxDB just after the other
                for path in ("direct", "numbatd") if round_ % 2 == 0 else ("numbatd", "direct"):
                    if path == "direct":
                        directs.append(direct(influxd, encoder, points, warm_points))
                    else:
                        sinks.append(through_numbatd(influxd, workdir / f"round{round_}", points, warm_points))
                for db in ("direct", "sink"):
                    landed = influxd.count(measurement, db), influxd.count(warmup, db)
                    assert landed == (n, BATCH), (db, landed)
        finally:
            influxd.stop()
    print_runs(n, directs, sinks, "InfluxDB on CPU 1, clients on CPU 0" if pinned else "not pinned")
    print()
    print_encoders(encoder)
    print("(peak RSS: the most the numbatd process held resident in any round, VmHWM)")


if __name__ == "__main__":
    main()
