"""The aggregation side by side with the real Etsy statsd (from the npm registry): the same
datagrams go to statsd over UDP and, through collector.wire's statsd decoder, to an
:class:`Aggregator`; statsd's flush, captured through its own Graphite backend by a TCP
server here, must equal ``graphite_paths`` of our flush, path for path and float for
float: counters with sample rates, timers with percentiles (top-N too) and histogram
bins, gauges with deltas across flushes and a negative level, sets, DogStatsD tags.

statsd flushes every second on its own clock; each round of lines is sent just after a
flush arrives and checked against statsd's own ``metrics_received`` count, so a round
that straddled a flush is seen, and the comparison restarts with a fresh statsd.
"""

from __future__ import annotations

import math
import queue
import random
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.aggregate import AggregationOptions, Aggregator, GraphiteNaming, graphite_paths
from collector.wire import Batch, decoder_for

from ..processes import terminate
from .node import ETSY_STATSD, npm_install
from .numbatd import free_port
from .test_aggregate_scan import through_the_scan

pytestmark = pytest.mark.slow

PERCENTILES = (50, 90, 99, -5)
BINS = (0.5, 10, 100, math.inf)
FLUSH_TIMEOUT = 5.0


@pytest.fixture(scope="module")
def statsd_folder(tmp_path_factory) -> Path:
    return npm_install(tmp_path_factory.mktemp("npm-etsy-statsd"), ETSY_STATSD) / "statsd"


class Capture:
    """A Graphite plaintext receiver: each connection (one statsd flush) read to its end."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.flushes: queue.Queue[str] = queue.Queue()
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(FLUSH_TIMEOUT)
                chunks = []
                while chunk := connection.recv(65536):
                    chunks.append(chunk)
            self.flushes.put(b"".join(chunks).decode())

    def next_flush(self) -> dict[str, float]:
        """The next flush statsd sends: its metrics, statsd's own figures among them."""
        text = self.flushes.get(timeout=FLUSH_TIMEOUT)
        metrics = {}
        for line in text.splitlines():
            path, value, _ = line.split(" ")
            assert path not in metrics, path
            metrics[path] = float(value)
        return metrics

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        self.server.close()


class EtsyStatsd:
    def __init__(
        self, folder: Path, config_dir: Path, graphite_port: int, delete_idle: bool, naming: GraphiteNaming
    ) -> None:
        self.port = free_port()
        graphite = (
            f'legacyNamespace: {str(naming.legacy_namespace).lower()}, globalPrefix: "{naming.global_prefix}", '
            f'prefixCounter: "{naming.prefix_counter}", prefixTimer: "{naming.prefix_timer}", '
            f'prefixGauge: "{naming.prefix_gauge}", prefixSet: "{naming.prefix_set}"'
            + (f', globalSuffix: "{naming.global_suffix}"' if naming.global_suffix else "")
        )
        config = config_dir / f"statsd-{self.port}.js"
        config.write_text(
            f"""{{
  address: "127.0.0.1", port: {self.port}, mgmt_address: "127.0.0.1", mgmt_port: {free_port()},
  flushInterval: 1000, backends: ["./backends/graphite"],
  graphiteHost: "127.0.0.1", graphitePort: {graphite_port}, graphite: {{ {graphite} }},
  percentThreshold: [{", ".join(map(str, PERCENTILES))}],
  histogram: [{{ metric: "", bins: [0.5, 10, 100, "inf"] }}],
  deleteIdleStats: {str(delete_idle).lower()}, deleteGauges: false
}}
"""
        )
        self.log = (config_dir / f"statsd-{self.port}.log").open("wb")
        self.process = subprocess.Popen(
            ["node", "stats.js", str(config)], cwd=folder, stdout=self.log, stderr=subprocess.STDOUT
        )

    def stop(self) -> None:
        terminate(self.process, timeout=5)  # by its PID
        self.log.close()


@pytest.fixture
def capture() -> Iterator[Capture]:
    server = Capture()
    yield server
    server.close()


def own_figures(path: str) -> bool:
    """statsd's metrics about itself (statsd.metrics_received, numStats, timestamp_lag...)."""
    return "statsd" in path.split(";", maxsplit=1)[0].split(".")[:3]


def rounds() -> list[list[str]]:
    """Two flushes' worth of lines: decimals, sample rates, tags, every kind."""
    rng = random.Random(15)
    first = [
        *["req:1|c"] * 50,
        *["req:3|c|@0.1"] * 7,
        *["req:2.5|c|@0.3"] * 3,
        "rated:7.7|c|@0.7",  # statsd adds 7.7 * (1 / 0.7) = 11, not 7.7 / 0.7 = 11.000000000000002
        *["req:1|c|#canary,env:prod"] * 5,
        "neg:-4|c",
        *["frac:0.1|c"] * 3,
        *[f"lat:{rng.uniform(0, 500):.3f}|ms" for _ in range(150)],
        *[f"lat:{rng.uniform(0, 50):.2f}|ms|@0.5" for _ in range(50)],
        *[f"lat:{rng.uniform(0, 9):.1f}|ms|#env:prod" for _ in range(31)],
        "one:42.5|ms",
        "two:1|ms",
        "two:3.3|ms",
        *[f"nine:{v}|ms" for v in range(9, 0, -1)],  # 5 % of 9 rounds to 0: no top5
        *[f"users:u{rng.randrange(20)}|s" for _ in range(60)],
        "users:u2|s|#env:prod",
    ]
    rng.shuffle(first)
    first += [  # in this order, in the last datagram
        "temp:21.5|g",
        "temp:+1.25|g",
        "temp:-0.5|g",
        "level:0|g",
        "level:-7|g",  # statsd's way to a negative level: 0, then the change
        "fresh:-3|g",
        "load:3|g|#host:a",
    ]
    second = [
        "temp:+10|g",
        "fresh:-2|g",
        "level:4|g",
        "req:2|c",
        "other:1|c|@0.5",
        *[f"lat:{rng.uniform(100, 200):.4f}|ms" for _ in range(40)],
        "users:u1|s",
    ]
    return [first, second]


def datagrams(lines: list[str]) -> list[bytes]:
    """The lines packed into datagrams of at most 1000 bytes."""
    packed: list[bytes] = []
    current: list[str] = []
    for line in lines:
        if current and len("\n".join([*current, line])) > 1000:
            packed.append("\n".join(current).encode())
            current = []
        current.append(line)
    packed.append("\n".join(current).encode())
    return packed


def ours(aggregator: Aggregator, payloads: list[bytes], now_ms: int, naming: GraphiteNaming) -> dict[str, float]:
    decoder = decoder_for("statsd")
    for payload in payloads:
        batch = Batch()
        decoder.decode_payload(payload, now_ms, batch)
        assert batch.rejections == []
        for event in batch.events:
            assert aggregator.add(event)
    return paths_of(aggregator, now_ms, naming)


def ours_scanned(
    aggregator: Aggregator, payloads: list[bytes], now_ms: int, naming: GraphiteNaming
) -> dict[str, float]:
    """As numbatd takes statsd datagrams when aggregations alone take them: the usual lines
    through the compiled scan, the others (tags, sets) through the decoder."""
    for payload in payloads:
        through_the_scan(aggregator, payload)
    return paths_of(aggregator, now_ms, naming)


def paths_of(aggregator: Aggregator, now_ms: int, naming: GraphiteNaming) -> dict[str, float]:
    paths = {}
    for summary in aggregator.flush(now_ms):
        for path, value in graphite_paths(summary, naming):
            assert path not in paths, path
            paths[path] = value
    return paths


def compare(
    folder: Path, tmp_path: Path, capture: Capture, delete_idle: bool, naming: GraphiteNaming
) -> list[dict[str, float]] | None:
    """Both sides' flushes of every round, or None when a round straddled statsd's flush."""
    statsd = EtsyStatsd(folder, tmp_path, capture.port, delete_idle, naming)
    received = {"name": "statsd.metrics_received", "kind": "counter", "count": 0.0, "rate": 0.0}
    received_path = graphite_paths(received, naming)[-1][0]  # its count, after its rate
    try:
        capture.next_flush()  # a flush boundary: statsd has just started a new interval
        options = AggregationOptions(
            "side-by-side",
            interval=1.0,
            percentiles=PERCENTILES,
            histogram_bins=BINS,
            delete_idle_after=0 if delete_idle else None,
            gauge_ttl=None,
        )
        aggregator, scanning = Aggregator(options), Aggregator(options)
        theirs_all = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for lines in rounds():
                payloads = datagrams(lines)
                for payload in payloads:
                    sender.sendto(payload, ("127.0.0.1", statsd.port))
                theirs = capture.next_flush()
                if theirs[received_path] != len(lines):
                    return None
                now_ms = int(time.time() * 1000)
                mine = ours(aggregator, payloads, now_ms, naming)
                theirs = {path: value for path, value in theirs.items() if not own_figures(path)}
                assert_same(theirs, mine)
                assert_same(theirs, ours_scanned(scanning, payloads, now_ms, naming))
                theirs_all.append(theirs)
        return theirs_all
    finally:
        statsd.stop()


def assert_same(theirs: dict[str, float], mine: dict[str, float]) -> None:
    assert sorted(set(theirs) - set(mine)) == []
    assert sorted(set(mine) - set(theirs)) == []
    assert {p: (theirs[p], mine[p]) for p in theirs if theirs[p] != mine[p]} == {}


DEFAULT = GraphiteNaming()
CASES = {
    "deleteIdleStats": (True, DEFAULT),
    "idle-as-zeros": (False, DEFAULT),
    "legacy-namespace": (True, GraphiteNaming(legacy_namespace=True, global_suffix="sfx")),
    "prefixes": (True, GraphiteNaming(global_prefix="g", prefix_counter="cnt", prefix_timer="", global_suffix="sfx")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_value_equals_etsy_statsd(statsd_folder, tmp_path, capture, case) -> None:
    delete_idle, naming = CASES[case]
    for _ in range(3):
        flushes = compare(statsd_folder, tmp_path, capture, delete_idle, naming)
        if flushes is not None:
            break
        while not capture.flushes.empty():
            capture.flushes.get()
    else:
        pytest.fail("every round straddled one of statsd's flushes")
    first, second = flushes
    assert len(first) > 100
    if naming != DEFAULT:
        return
    # what the comparison covered, lest it pass by comparing little
    assert first["stats.counters.req.count"] == 50 + 7 * 3 * (1 / 0.1) + 3 * 2.5 * (1 / 0.3)
    assert first["stats.counters.rated.count"] == 11
    assert "stats.counters.req.rate;canary;env=prod" in first
    assert first["stats.timers.lat.count"] == 150 + 50 * 2
    assert "stats.timers.lat.lower_top5" in first
    assert "stats.timers.lat.histogram.bin_0_5" in first
    assert "stats.timers.nine.count_top5" not in first
    assert first["stats.gauges.level"] == -7
    assert second["stats.gauges.temp"] == 21.5 + 1.25 - 0.5 + 10
    assert second["stats.gauges.fresh"] == -5
    assert ("stats.counters.neg.rate" in second) is not delete_idle
