"""numbatd's Graphite sink against writing the same points straight into the same local
carbon-cache from a plain socket client, in carbon's plaintext and pickle protocols.

    python bench/sinks_graphite.py [--seconds 8] [--rounds 3] [--no-pin]

Needs carbon-cache and python3-whisper (Debian's graphite-carbon; ./run-tests installs
them). "direct" writes pre-built lines (or pickle messages of 500 points, as carbon-relay
sends them) on one connection from this process; "numbatd" is the same points sent to
numbatd over TCP as numbat JSON events, decoded, encoded and written by its graphite
sink. Each run ends with one more point, the sentinel, on the same connection: a run
is timed until carbon has read the sentinel (it is in carbon's cache, asked over carbon's
cache query port, or already in its whisper file), so both paths are timed to the same
moment, carbon having read every point. CPU per point is numbatd's and carbon's (its
receiver and its whisper writer, one process) over the run. Every point is then read
back from whisper: all landed, or the run fails.

By default carbon is pinned to CPU 1 and the clients (this process, numbatd) to CPU 0,
as bench/influx.py does: on a small machine the kernel otherwise runs the server and
whoever writes to it on one CPU in turns. ``measure(seconds)`` returns the table's rows
(for bench/sinks.py, which puts every sink's side by side).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import pickle
import socket
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/ must not shadow packages
sys.path.insert(0, str(HERE.parent))  # the test helpers that start carbon and numbatd

import orjson  # noqa: E402

from bench._procs import cpu_seconds, peak_rss_mb, pin, settle  # noqa: E402
from tests.collector.carbon import RETENTION, Carbon  # noqa: E402
from tests.collector.numbatd import Numbatd, free_port  # noqa: E402
from tests.waiting import wait_for  # noqa: E402

PATHS = 200  #: distinct paths (whisper files) a run writes, each point a second of its own
PICKLE_POINTS = 500  #: points per pickle message of the direct client, as carbon-relay sends them
PROTOCOLS = ("plaintext", "pickle")


@dataclass(frozen=True)
class Points:
    """``count`` points: ``run.m<i % PATHS>;host=h<i % 4>``, one second each per path."""

    run: str
    count: int
    base: int  #: the first second

    def each(self) -> list[tuple[str, str, float, int]]:
        """(name, host, value, second) of every point, the sentinel last."""
        points = [(f"{self.run}.m{i % PATHS}", f"h{i % 4}", i * 0.5, self.base + i // PATHS) for i in range(self.count)]
        return [*points, self.sentinel]

    @property
    def sentinel(self) -> tuple[str, str, float, int]:
        return (f"{self.run}.end", "h0", 1.0, self.base)

    def lines(self) -> bytes:
        return "".join(f"{name};host={host} {value!r} {second}\n" for name, host, value, second in self.each()).encode()

    def messages(self) -> bytes:
        points = [(f"{name};host={host}", (second, value)) for name, host, value, second in self.each()]
        messages = []
        for start in range(0, len(points), PICKLE_POINTS):
            payload = pickle.dumps(points[start : start + PICKLE_POINTS], protocol=2)
            messages.append(struct.pack("!L", len(payload)) + payload)
        return b"".join(messages)

    def events(self) -> bytes:
        return b"".join(
            orjson.dumps({"name": name, "value": value, "time": second * 1000, "host": host}) + b"\n"
            for name, host, value, second in self.each()
        )


class CacheQuery:
    """Carbon's cache query port (carbonlink): what carbon holds of a path, not yet written."""

    def __init__(self, carbon: Carbon) -> None:
        self.carbon = carbon
        self.sock = socket.create_connection(("127.0.0.1", carbon.query_port), timeout=10)

    def holds(self, path: str) -> bool:
        request = pickle.dumps({"type": "cache-query", "metric": path}, protocol=2)
        self.sock.sendall(struct.pack("!L", len(request)) + request)
        (length,) = struct.unpack("!L", self._read(4))
        return bool(pickle.loads(self._read(length))["datapoints"])  # our own carbon's answer

    def has_read(self, path: str) -> bool:
        """Whether carbon has read a point of the tagged ``path``: written already (its
        whisper file, where carbon puts a tagged series: ``TaggedSeries.encode``), or in
        its cache."""
        digest = hashlib.sha256(path.encode()).hexdigest()
        written = self.carbon.storage / "_tagged" / digest[:3] / digest[3:6] / f"{path.replace('.', '_DOT_')}.wsp"
        return written.exists() or self.holds(path)

    def _read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("carbon closed its cache query port")
            data += chunk
        return data

    def close(self) -> None:
        self.sock.close()


@dataclass
class Run:
    seconds: float
    carbon_cpu: float  #: seconds of CPU carbon spent
    numbatd_cpu: float = 0.0
    numbatd_peak_mb: float = 0.0  #: numbatd's peak RSS over its life, read before it stops


def timed(carbon: Carbon, query: CacheQuery, points: Points, send: Callable[[], None], others: tuple[int, ...]) -> Run:
    """Run ``send`` and time it until carbon has read the sentinel."""
    path = f"{points.sentinel[0]};host=h0"
    before = [cpu_seconds(pid) for pid in (carbon.process.pid, *others)]  # type: ignore[union-attr]
    started = time.perf_counter()
    send()
    while not query.has_read(path):
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    after = [cpu_seconds(pid) for pid in (carbon.process.pid, *others)]  # type: ignore[union-attr]
    used = [b - a for a, b in zip(before, after, strict=True)]
    return Run(seconds, used[0], used[1] if others else 0.0)


def direct(carbon: Carbon, query: CacheQuery, points: Points, protocol: str) -> Run:
    body = points.lines() if protocol == "plaintext" else points.messages()

    def send() -> None:
        with socket.create_connection(("127.0.0.1", carbon.port(protocol))) as sock:
            sock.sendall(body)

    return timed(carbon, query, points, send, ())


def through_numbatd(carbon: Carbon, query: CacheQuery, workdir: Path, points: Points, protocol: str) -> Run:
    workdir.mkdir()
    port = free_port()
    daemon = Numbatd(
        workdir,
        f'state_dir = "{workdir}/state"\n[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n'
        f'[[sinks]]\ntype = "graphite"\nurl = "tcp://127.0.0.1:{carbon.port(protocol)}"\nprotocol = "{protocol}"\n'
        'flush_interval = 0.05\nqueue_size = 20000\noverflow = "block"\n',
    ).start()
    payload = points.events()
    assert daemon.process is not None
    try:

        def send() -> None:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(payload)

        run = timed(carbon, query, points, send, (daemon.process.pid,))
        assert wait_for(lambda: daemon.metric("numbat_sink_delivered_events_total") == points.count + 1, 60)
        assert daemon.metric("numbat_sink_spooled_events_total") == 0
        run = dataclasses.replace(run, numbatd_peak_mb=peak_rss_mb(daemon.process.pid))
    finally:
        daemon.stop()
    return run


def landed(carbon: Carbon, points: Points) -> bool:
    stored = carbon.stored(points.run + ".")
    for name, host, value, second in points.each():
        if stored.get(f"{name};host={host}", {}).get(second) != value:
            return False
    return True


def measure(seconds: float, rounds: int = 3, pinned: bool = True) -> list[dict[str, object]]:
    """Rows of the table: per protocol, direct and numbatd, medians of ``rounds`` runs of
    about ``seconds`` each."""
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        (workdir / "carbon").mkdir()
        carbon = Carbon(workdir / "carbon").start()
        assert carbon.process is not None
        pinned = pinned and len(os.sched_getaffinity(0)) >= 2
        if pinned:  # carbon on CPU 1; this process, and so numbatd, on CPU 0
            pin(carbon.process.pid, 1)
            pin(os.getpid(), 0)
        query = CacheQuery(carbon)
        base = int(time.time()) - RETENTION + 600
        try:
            for protocol in PROTOCOLS:
                probe = Points(f"probe_{protocol}", 50_000, base)
                rate = probe.count / direct(carbon, query, probe, protocol).seconds
                count = min(int(rate * seconds), PATHS * (RETENTION - 1200))
                directs, sinks = [], []
                for round_ in range(rounds):
                    settle(carbon.process.pid, 120.0)
                    points = Points(f"direct_{protocol}{round_}", count, base)
                    directs.append(direct(carbon, query, points, protocol))
                    assert wait_for(lambda points=points: landed(carbon, points), 300, interval=2), points.run
                    points = Points(f"sink_{protocol}{round_}", count, base)
                    sinks.append(through_numbatd(carbon, query, workdir / f"{protocol}{round_}", points, protocol))
                    assert wait_for(lambda points=points: landed(carbon, points), 300, interval=2), points.run
                rows += _rows(protocol, count, directs, sinks, pinned)
        finally:
            query.close()
            carbon.stop()
    return rows


def _rows(protocol: str, count: int, directs: list[Run], sinks: list[Run], pinned: bool) -> list[dict[str, object]]:
    ratios = [d.seconds / s.seconds for d, s in zip(directs, sinks, strict=True)]
    rows: list[dict[str, object]] = []
    for path, runs, ratio in (("direct", directs, 1.0), ("numbatd", sinks, statistics.median(ratios))):
        rows.append(
            {
                "sink": "graphite",
                "protocol": protocol,
                "path": path,
                "points": count,
                "points_per_s": statistics.median(count / run.seconds for run in runs),
                "vs_direct": ratio,
                "ratios": ratios if path == "numbatd" else [],
                "server_us_per_point": statistics.median(run.carbon_cpu for run in runs) / count * 1e6,
                "numbatd_us_per_point": statistics.median(run.numbatd_cpu for run in runs) / count * 1e6,
                "numbatd_peak_mb": max(run.numbatd_peak_mb for run in runs),
                "pinned": pinned,
            }
        )
    return rows


def print_table(rows: list[dict[str, object]]) -> None:
    first = rows[0]
    placement = "carbon on CPU 1, clients on CPU 0" if first["pinned"] else "not pinned"
    print(f"carbon-cache (Debian graphite-carbon), {PATHS} paths, {placement}; medians; every point read back")
    header = f"{'path':46} {'points':>9} {'points/s':>10} {'vs direct':>10} {'carbon us/pt':>13} {'numbatd us/pt':>14}"
    print(f"{header} {'numbatd peak MB':>16}")
    for row in rows:
        label = (
            f"direct: pre-built {row['protocol']} on a socket"
            if row["path"] == "direct"
            else f"numbatd: NDJSON over TCP -> graphite {row['protocol']}"
        )
        numbatd = f"{row['numbatd_us_per_point']:14.2f}" if row["path"] == "numbatd" else f"{'-':>14}"
        peak = f"{row['numbatd_peak_mb']:16.1f}" if row["path"] == "numbatd" else f"{'-':>16}"
        print(
            f"{label:46} {row['points']:>9,} {row['points_per_s']:10,.0f} {row['vs_direct']:9.2f}x "
            f"{row['server_us_per_point']:13.2f} {numbatd} {peak}"
        )
        if row["ratios"]:
            ratios = " ".join(f"{r:.2f}" for r in row["ratios"])  # type: ignore[union-attr]
            print(f"{'  (ratio of each round)':46} {'':>9} {'':>10} {ratios:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="about how long each run takes")
    parser.add_argument("--rounds", type=int, default=3, help="direct and numbatd runs, alternating (median)")
    parser.add_argument(
        "--no-pin", dest="pin", action="store_false", help="let the kernel place carbon and its clients"
    )
    args = parser.parse_args()
    print_table(measure(args.seconds, args.rounds, args.pin))


if __name__ == "__main__":
    main()
