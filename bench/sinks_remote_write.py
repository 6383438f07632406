"""numbatd's prometheus_remote_write sink against writing the same local Prometheus
directly, in one run.

    python bench/sinks_remote_write.py [--seconds 5] [--rounds 3] [--no-pin]

Needs prometheus (Debian's package, 2.42; ./run-tests installs it) and the bench extra's
protobuf. Four paths, each writing the same points (events of 16 series, as
bench/influx.py sends) under names of its own, in batches of 5000, one request at a time
over one keep-alive connection:

- "direct, plain client": what the issue calls writing directly, and the reference of
  the "vs direct" ratio: a Python service's own client, which groups its events by label
  set, builds each batch's WriteRequest with Google's protobuf runtime (upb, in C) and
  compresses it with cramjam's snappy, in the loop, then POSTs it;
- "Prometheus alone, pre-built": the same bodies encoded before the clock starts, then
  POSTed: what Prometheus alone can take, which no client reaches (the "vs ceiling"
  ratio);
- "numbatd": the events as newline-delimited JSON over TCP, decoded, mapped, encoded
  and batched by numbatd, timed until Prometheus answered its sink's last request;
- "(forward)", for reference: the same through numbatd to its forward sink and a socket
  that discards them: numbatd's ceiling here, decoding and batching without a sink's
  encoding, whatever the store.

CPU is per point: the client's (numbatd's process, or this one on the direct paths) and
Prometheus's. As in bench/influx.py, Prometheus is pinned to CPU 1 and the clients (this
process, numbatd) to CPU 0 unless ``--no-pin``. ``measure(seconds)`` returns the rows (dicts) for bench/sinks.py: each
path writes about ``seconds`` worth of numbatd's rate.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/ must not shadow packages
sys.path.insert(0, str(HERE.parent))  # the test helpers that start prometheus and numbatd

import cramjam  # noqa: E402
import orjson  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # noqa: E402

from bench._procs import cpu_seconds, peak_rss_mb, pin, settle  # noqa: E402
from tests.collector.numbatd import Numbatd, free_port  # noqa: E402
from tests.collector.prometheus_receiver import Prometheus  # noqa: E402
from tests.waiting import wait_for  # noqa: E402

BATCH = 5000
#: numbatd's rate on this kind of machine, roughly: sizes a run of ``seconds``.
EXPECTED_RATE = 250_000
HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "User-Agent": "bench/0",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}


def events(count: int, name: str, base_ms: int) -> list[dict]:
    return [
        {
            "name": name,
            "value": i * 0.5,
            "time": base_ms + i,
            "host": f"web-{i % 4}",
            "node": "n1",
            "status": "ok" if i % 10 else "warning",
            "route": f"/r{i % 8}",
        }
        for i in range(count)
    ]


# -- a plain client: what a Python service would write for itself -------------------------


def _write_request_class() -> type:
    """prompb's WriteRequest as a protobuf message class, described here (no protoc, no
    .proto file): TimeSeries of Labels and Samples, with remote write 1.0's field numbers."""
    file = descriptor_pb2.FileDescriptorProto(name="bench_remote.proto", package="bench_prompb", syntax="proto3")
    field = descriptor_pb2.FieldDescriptorProto
    shapes = {
        "Label": [("name", field.TYPE_STRING, ""), ("value", field.TYPE_STRING, "")],
        "Sample": [("value", field.TYPE_DOUBLE, ""), ("timestamp", field.TYPE_INT64, "")],
        "TimeSeries": [("labels", field.TYPE_MESSAGE, "Label"), ("samples", field.TYPE_MESSAGE, "Sample")],
        "WriteRequest": [("timeseries", field.TYPE_MESSAGE, "TimeSeries")],
    }
    for name, fields in shapes.items():
        message = file.message_type.add(name=name)
        for number, (field_name, kind, of) in enumerate(fields, start=1):
            label = field.LABEL_REPEATED if of else field.LABEL_OPTIONAL
            member = message.field.add(name=field_name, number=number, type=kind, label=label)
            if of:
                member.type_name = f".bench_prompb.{of}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("bench_prompb.WriteRequest"))


WriteRequest = _write_request_class()


def plain_body(batch: list[dict]) -> bytes:
    """One WriteRequest for ``batch``, written plainly: group by label set, samples in time
    order, Google's protobuf runtime, snappy's block format."""
    series: dict[tuple, list[tuple[int, float]]] = {}
    for event in batch:
        labels = [("__name__", event["name"].replace(".", "_"))]
        labels += [(key, str(value)) for key, value in event.items() if key not in ("name", "value", "time")]
        series.setdefault(tuple(sorted(labels)), []).append((event["time"], event["value"]))
    request = WriteRequest()
    for labels, points in series.items():
        timeseries = request.timeseries.add()
        for name, value in labels:
            timeseries.labels.add(name=name, value=value)
        for stamp, value in sorted(points):
            timeseries.samples.add(value=value, timestamp=stamp)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


# -- measuring -------------------------------------------------------------------------------


def post_all(prometheus: Prometheus, bodies, pid: int) -> tuple[float, float, float]:
    """POST each body (made on demand when ``bodies`` is lazy); seconds, server CPU and
    this process's CPU (the client's)."""
    connection = http.client.HTTPConnection("127.0.0.1", prometheus.port, timeout=60)
    server_before = cpu_seconds(pid)
    client_before = time.process_time()
    started = time.perf_counter()
    for body in bodies:
        connection.request("POST", "/api/v1/write", body=body, headers=HEADERS)
        response = connection.getresponse()
        answer = response.read()
        assert response.status == 204, (response.status, answer)
    elapsed = time.perf_counter() - started
    client = time.process_time() - client_before
    connection.close()
    return elapsed, cpu_seconds(pid) - server_before, client


class Discard:
    """A TCP server that reads and forgets: the far end of numbatd's forward sink, for
    numbatd's own ceiling (decoding and batching without a sink's encoding)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.server.accept()
                threading.Thread(target=self._drain, args=(connection,), daemon=True).start()

    @staticmethod
    def _drain(connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):
            while connection.recv(1 << 20):
                pass

    def close(self) -> None:
        self.server.close()


def sink_table(key: str, prometheus: Prometheus, discard: Discard) -> str:
    if key == "forward":
        return f'[[sinks]]\ntype = "forward"\nurl = "tcp://127.0.0.1:{discard.port}"\n'
    return (
        f'[[sinks]]\ntype = "prometheus_remote_write"\nurl = "{prometheus.write_url}"\n'
        f"batch_size = {BATCH}\nflush_interval = 0.05\n"
    )


def through_numbatd(
    prometheus: Prometheus, workdir: Path, payload: bytes, count: int, sink: str
) -> tuple[float, float, float, float]:
    workdir.mkdir()
    port = free_port()
    daemon = Numbatd(
        workdir,
        f'state_dir = "{workdir}/state"\n[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n'
        f'{sink}queue_size = 20000\noverflow = "block"\n',
    ).start()
    server_pid = prometheus.process.pid  # type: ignore[union-attr]
    try:
        server_before, numbatd_before = cpu_seconds(server_pid), cpu_seconds(daemon.process.pid)  # type: ignore[union-attr]
        started = time.time()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(payload)
        # each scrape costs numbatd CPU: ask ten times a second, and take the end from
        # numbatd's own clock of the receiver's last answer
        wait_for(lambda: daemon.metric("numbat_sink_delivered_events_total") >= count, 600, interval=0.1)
        elapsed = daemon.metric("numbat_sink_last_delivery_timestamp_seconds") - started
        server_cpu = cpu_seconds(server_pid) - server_before
        numbatd_cpu = cpu_seconds(daemon.process.pid) - numbatd_before  # type: ignore[union-attr]
        assert daemon.metric("numbat_sink_spooled_events_total") == 0
        assert daemon.metric("numbat_sink_skipped_events_total") == 0
        rss = peak_rss_mb(daemon.process.pid)  # type: ignore[union-attr]
    finally:
        daemon.stop()
    return elapsed, server_cpu, numbatd_cpu, rss


PATHS = (
    ("plain", "direct, plain client: protobuf (upb) + snappy"),
    ("direct", "Prometheus alone: pre-built bodies POSTed"),
    ("numbatd", "numbatd: NDJSON over TCP -> remote write"),
    ("forward", "(numbatd -> forward to a discarding socket)"),
)


NUMBATD_PATHS = ("numbatd", "forward")


def _rounds(seconds: float, rounds: int, pinned_wanted: bool) -> tuple[dict[str, list[dict]], int, bool]:
    count = max(BATCH * 10, int(seconds * EXPECTED_RATE) // BATCH * BATCH)
    # distinct timestamps, recent enough for Prometheus's head: within its last hour
    base_ms = (int(time.time()) - 60) * 1000 - count * rounds
    runs: dict[str, list[dict]] = {key: [] for key, _ in PATHS}
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        (workdir / "prometheus").mkdir()
        prometheus = Prometheus(workdir / "prometheus").start()
        discard = Discard()
        pid = prometheus.process.pid  # type: ignore[union-attr]
        pinned = pinned_wanted and len(os.sched_getaffinity(0)) >= 2
        if pinned:
            pin(pid, 1)
            pin(os.getpid(), 0)
        try:
            for round_ in range(rounds):
                start = base_ms + round_ * count
                for key, _ in PATHS:
                    batch = events(count, f"bench.{key}{round_}", start)
                    settle(pid, 30.0)
                    if key == "direct":
                        bodies = [plain_body(batch[i : i + BATCH]) for i in range(0, count, BATCH)]
                        elapsed, server, client = post_all(prometheus, bodies, pid)
                        rss = 0.0
                    elif key == "plain":
                        lazy = (plain_body(batch[i : i + BATCH]) for i in range(0, count, BATCH))
                        elapsed, server, client = post_all(prometheus, lazy, pid)
                        rss = 0.0
                    else:
                        payload = b"".join(orjson.dumps(event) + b"\n" for event in batch)
                        run_dir = workdir / f"{key}{round_}"
                        table = sink_table(key, prometheus, discard)
                        elapsed, server, client, rss = through_numbatd(prometheus, run_dir, payload, count, table)
                    if key != "forward":
                        landed = prometheus.count(f"bench_{key}{round_}", "2h")
                        assert landed == count, (key, landed, count)
                    runs[key].append({"seconds": elapsed, "server_cpu": server, "client_cpu": client, "rss": rss})
        finally:
            prometheus.stop()
            discard.close()
    return runs, count, pinned


def measure(seconds: float = 5.0, rounds: int = 1, pin_cpus: bool = True) -> list[dict]:
    """One row per path: points/s (median of ``rounds``), the ratio to the plain client
    (direct) and to Prometheus alone (its ceiling), CPU microseconds per point of numbatd
    and of Prometheus."""
    runs, count, pinned = _rounds(seconds, rounds, pin_cpus)
    rows = []
    for key, label in PATHS:
        ratios = [d["seconds"] / r["seconds"] for d, r in zip(runs["plain"], runs[key], strict=True)]
        to_ceiling = [c["seconds"] / r["seconds"] for c, r in zip(runs["direct"], runs[key], strict=True)]
        rows.append(
            {
                "sink": "prometheus_remote_write",
                "path": label,
                "points": count,
                "points_per_s": statistics.median(count / r["seconds"] for r in runs[key]),
                "vs_direct": statistics.median(ratios),
                "ratios": ratios,
                "vs_ceiling": statistics.median(to_ceiling),
                # the client's CPU: numbatd's process, or this one for the direct paths
                "client_us_per_point": statistics.median(r["client_cpu"] for r in runs[key]) / count * 1e6,
                "numbatd_us_per_point": (
                    statistics.median(r["client_cpu"] for r in runs[key]) / count * 1e6 if key in NUMBATD_PATHS else 0.0
                ),
                "server_us_per_point": statistics.median(r["server_cpu"] for r in runs[key]) / count * 1e6,
                "numbatd_peak_rss_mb": max(r["rss"] for r in runs[key]),
                "numbatd_peak_mb": max(r["rss"] for r in runs[key]),  # bench/sinks.py's name for it
                "pinned": pinned,
            }
        )
    return rows


def print_rows(rows: list[dict], rounds: int) -> None:
    version = subprocess.run(["prometheus", "--version"], capture_output=True, text=True, check=False)
    first = rows[0]
    print(f"{first['points']} points a run, batches of {BATCH}, {version.stdout.split(chr(10))[0]}")
    placement = "Prometheus on CPU 1, clients on CPU 0" if first["pinned"] else "not pinned"
    print(f"{rounds} rounds, paths in turn, each after Prometheus went idle; medians; all landed; {placement}")
    header = f"{'path':46} {'points/s':>10} {'vs direct':>10} {'vs ceiling':>11} {'client us/pt':>13}"
    header += f" {'prometheus us/pt':>17}"
    print(header + f" {'numbatd peak RSS MB':>20}")
    for row in rows:
        client = f"{row['client_us_per_point']:13.2f}"
        rss = f"{row['numbatd_peak_rss_mb']:20.0f}" if row["numbatd_peak_rss_mb"] else f"{'-':>20}"
        print(
            f"{row['path']:46} {row['points_per_s']:10,.0f} {row['vs_direct']:9.2f}x {row['vs_ceiling']:10.2f}x "
            f"{client} "
            f"{row['server_us_per_point']:17.2f} {rss}"
        )
    sink = next(row for row in rows if row["path"].startswith("numbatd"))
    print(f"{'(numbatd: ratio of each round)':46} {'':>10} {' '.join(f'{r:.2f}' for r in sink['ratios']):>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="about how long numbatd's run takes")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each path, in turn (median)")
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="let the kernel place the processes")
    args = parser.parse_args()
    print_rows(measure(args.seconds, args.rounds, args.pin), args.rounds)


if __name__ == "__main__":
    main()
