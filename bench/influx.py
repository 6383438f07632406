"""numbatd's InfluxDB sink against posting line protocol straight to the same local
InfluxDB, and numbatd's line encoder against influxdb-client's Point, in one run.

    python bench/influx.py [--points 300000]

Needs influxd (Debian's influxdb package; ./run-tests installs it). "direct" posts
pre-built batches of 5000 lines from this process, one request at a time; "numbatd"
is events sent over TCP as newline-delimited JSON, decoded, encoded and batched by
numbatd, timed until its sink has written them all.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/ must not shadow packages
sys.path.insert(0, str(HERE.parent))  # the test helpers that start influxd and numbatd

import orjson  # noqa: E402
import urllib3  # noqa: E402
from influxdb_client import Point, WritePrecision  # noqa: E402

from collector.lineprotocol import LineEncoder  # noqa: E402
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


def direct(influxd: Influxd, lines: list[str]) -> float:
    pool = urllib3.PoolManager(retries=False)
    url = f"{influxd.url}/write?db=direct&precision=ms"
    bodies = ["\n".join(lines[i : i + BATCH]).encode() for i in range(0, len(lines), BATCH)]
    started = time.perf_counter()
    for body in bodies:
        response = pool.request("POST", url, body=body, timeout=60)
        assert response.status == 204, response.data
    return time.perf_counter() - started


def through_numbatd(influxd: Influxd, workdir: Path, payload: bytes, count: int) -> float:
    port = free_port()
    daemon = Numbatd(
        workdir,
        f'state_dir = "{workdir}/state"\n[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n'
        f'[[sinks]]\ntype = "influxdb"\napi = "v1"\nurl = "{influxd.url}"\ndatabase = "sink"\n'
        f'batch_size = {BATCH}\nflush_interval = 0.05\nqueue_size = 20000\noverflow = "block"\n',
    ).start()
    try:
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(payload)
        # each scrape costs numbatd CPU: ask ten times a second, not more
        wait_for(lambda: daemon.metric("numbat_sink_written_events_total") >= count, 300, interval=0.1)
        elapsed = time.perf_counter() - started
        assert daemon.metric("numbat_sink_spooled_events_total") == 0
    finally:
        daemon.stop()
    return elapsed


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=500_000)
    args = parser.parse_args()
    n = args.points
    encoder = LineEncoder()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        (workdir / "influxdb").mkdir()
        influxd = Influxd(workdir / "influxdb").start()
        try:
            for db in ("direct", "sink"):
                influxd.create_database(db)
            direct_events = events(n, "bench.direct")
            lines = [encoder.encode(event)[1] for event in direct_events]  # type: ignore[index]
            direct_seconds = direct(influxd, lines)
            sink_events = events(n, "bench.sink")
            payload = b"".join(orjson.dumps(event) + b"\n" for event in sink_events)
            sink_seconds = through_numbatd(influxd, workdir, payload, n)
            landed = (influxd.count("bench.direct", "direct"), influxd.count("bench.sink", "sink"))
        finally:
            influxd.stop()
    sample = events(20_000, "bench.encoder")
    ours = cpu_per_point(encoder.encode_all, [sample]) / len(sample)
    theirs = cpu_per_point(point_line, sample)
    assert encoder.encode_all(sample)[0] == [point_line(e) for e in sample]

    direct_rate, sink_rate = n / direct_seconds, n / sink_seconds
    version = subprocess.run(["influxd", "version"], capture_output=True, text=True, check=False).stdout.split()[1]
    rows = [
        ("direct: pre-built line protocol POSTs", direct_rate, direct_seconds, landed[0], 1.0),
        ("numbatd: NDJSON over TCP -> influxdb sink", sink_rate, sink_seconds, landed[1], sink_rate / direct_rate),
    ]
    print(f"{n} points, batches of {BATCH}, InfluxDB {version}")
    print(f"{'path':44} {'points/s':>10} {'seconds':>8} {'landed':>8} {'vs direct':>10}")
    for label, rate, seconds, count, ratio in rows:
        print(f"{label:44} {rate:10,.0f} {seconds:8.2f} {count:8} {ratio:9.2f}x")
    print()
    print(f"{'encoder, CPU per point':44} {'us':>10} {'vs Point':>10}")
    print(f"{'influxdb-client Point.to_line_protocol()':44} {theirs:10.2f} {'1.0x':>10}")
    print(f"{'numbat LineEncoder.encode_all()':44} {ours:10.2f} {theirs / ours:9.1f}x")


if __name__ == "__main__":
    main()
