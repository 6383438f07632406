"""statsd lines aggregated without loss: numbatd's aggregation against the real Etsy statsd
(from the npm registry), fed by the same sender, one run.

    python bench/aggregate.py [--seconds 2] [--series 1000] [--memory-series 100000]

The sender is a process of its own (the collector under test gets the other core): it
sends counter lines (``bench.c<i>:1|c``, ``--series`` names in turn, 20 lines a datagram,
as statsd clients pack them) over UDP at a paced rate for ``--seconds``, at each rate of
a rising ladder. numbatd runs twice: as it runs when aggregations alone take the events
(the usual statsd lines read by the compiled scan), and with ``statsd_scan = false``
(every line decoded into an event, as when a sink takes raw events). What each
collector counted is read from its flushes, 1 s apart: numbatd's counter summaries in
a JSONL sink, statsd's ``stats.counters.<name>.count`` through its Graphite backend
into a capture server here. A rate is loss-free when every line sent is in the sum of
the counts; the table gives each collector's highest loss-free rate, its CPU per line
there (user + system time of the process over the lines), and memory per counter
series (resident memory grown by ``--memory-series`` new series, each sent once, flush
interval long enough that none is flushed or deleted meanwhile).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/ must not shadow packages
sys.path.insert(0, str(HERE.parent))  # bench._procs, and the tests' npm install

from bench._procs import cpu_seconds, peak_rss_mb  # noqa: E402
from tests.collector.node import ETSY_STATSD, npm_install  # noqa: E402

LINES_PER_DATAGRAM = 20
LADDER = (
    50_000,
    75_000,
    100_000,
    125_000,
    150_000,
    200_000,
    250_000,
    300_000,
    400_000,
    500_000,
    600_000,
    800_000,
    1_000_000,
    1_250_000,
    1_500_000,
    2_000_000,
    2_500_000,
)
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def udp_bound(port: int) -> bool:
    wanted = f":{port:04X}"
    with open("/proc/net/udp") as table:
        return any(line.split()[1].endswith(wanted) for line in table.readlines()[1:])


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def resident_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


# -- the sender ---------------------------------------------------------------------------


def datagrams(series: int, first: int = 0, count: int | None = None) -> list[bytes]:
    """Counter lines for ``series`` names (or ``count`` lines from name ``first`` on, each
    name once), packed LINES_PER_DATAGRAM to a datagram."""
    names = range(first, first + (count if count is not None else series))
    lines = [b"bench.c%d:1|c" % (i % series if count is None else i) for i in names]
    return [b"\n".join(lines[i : i + LINES_PER_DATAGRAM]) for i in range(0, len(lines), LINES_PER_DATAGRAM)]


def send_paced(port: int, packets: list[bytes], rate: float, seconds: float) -> int:
    """Send ``packets`` round and round at ``rate`` lines per second for ``seconds``, in
    bursts a millisecond apart; the lines sent."""
    sent = 0
    per_packet = packets[0].count(b"\n") + 1
    total = int(rate * seconds)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("127.0.0.1", port))
        started = time.perf_counter()
        index = 0
        while sent < total:
            due = min(total, int((time.perf_counter() - started) * rate) + per_packet)
            while sent < due:
                with contextlib.suppress(BlockingIOError, ConnectionRefusedError):
                    sock.send(packets[index])
                sent += per_packet
                index = (index + 1) % len(packets)
            time.sleep(0.001)
    return sent


def _sender(port: int, packets: list[bytes], rate: float, seconds: float, result: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    result.put(send_paced(port, packets, rate, seconds))


def send_from_another_process(port: int, packets: list[bytes], rate: float, seconds: float) -> int:
    result: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    process = multiprocessing.Process(target=_sender, args=(port, packets, rate, seconds, result))
    process.start()
    sent = int(result.get(timeout=seconds + 60))
    process.join(30)
    return sent


# -- the collectors -------------------------------------------------------------------------


@dataclass
class Collector:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    counted: Callable[[], int]  #: counter lines counted so far, from its flushes


class CaptureServer:
    """A Graphite plaintext receiver: sums ``stats.counters.bench.*.count`` as they come."""

    def __init__(self) -> None:
        self.port = free_port()
        self.total = 0
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while data := conn.recv(1 << 16):
                buffer += data
                *lines, buffer = buffer.split(b"\n")
                found = 0
                for line in lines:
                    path, _, rest = line.partition(b" ")
                    if path.startswith(b"stats.counters.bench.") and path.endswith(b".count"):
                        found += int(float(rest.split()[0]))
                with self._lock:
                    self.total += found

    def close(self) -> None:
        self._sock.close()


@contextlib.contextmanager
def etsy_statsd(node_modules: Path, workdir: Path, flush_ms: int) -> Iterator[Collector]:
    capture = CaptureServer()
    port = free_port(socket.SOCK_DGRAM)
    config = workdir / "statsd.js"
    settings = json.dumps(
        {
            "address": "127.0.0.1",
            "port": port,
            "flushInterval": flush_ms,
            "backends": ["./backends/graphite"],
            "graphiteHost": "127.0.0.1",
            "graphitePort": capture.port,
            "graphite": {"legacyNamespace": False},
            "deleteIdleStats": True,
        }
    )
    config.write_text(f"({settings})\n")  # statsd evaluates its configuration as a JavaScript expression
    node = shutil.which("node")
    assert node is not None
    statsd_dir = node_modules / "statsd"
    process = subprocess.Popen(
        [node, "stats.js", str(config)], cwd=statsd_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until(lambda: udp_bound(port), 20, "statsd to listen")
        yield Collector("Etsy statsd", port, process, lambda: capture.total)
    finally:
        stop(process)
        capture.close()


@contextlib.contextmanager
def numbatd(workdir: Path, flush_seconds: float, *, scan: bool = True) -> Iterator[Collector]:
    port = free_port(socket.SOCK_DGRAM)
    out = workdir / "summaries.jsonl"
    config = workdir / "numbatd.toml"
    config.write_text(
        f'[[listeners]]\nurl = "udp://127.0.0.1:{port}"\nformat = "statsd"\nstatsd_scan = {str(scan).lower()}\n'
        f'[[aggregations]]\nname = "statsd"\ninterval = {flush_seconds}\n'
        f'[[sinks]]\ntype = "jsonl"\npath = "{out}"\nfsync = "never"\ninput = "statsd"\n'
        f'[self_metrics]\nlisten = ""\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "collector", "--config", str(config)],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    read = {"offset": 0, "total": 0}

    def counted() -> int:
        if out.exists():
            with open(out, "rb") as file:
                file.seek(read["offset"])
                data = file.read()
            complete = data.rfind(b"\n") + 1
            for line in data[:complete].splitlines():
                event = json.loads(line)
                if event.get("kind") == "counter" and str(event.get("name", "")).startswith("bench.c"):
                    read["total"] += int(event["count"])
            read["offset"] += complete
        return read["total"]

    try:
        wait_until(lambda: udp_bound(port), 30, "numbatd to listen")
        yield Collector("numbatd", port, process, counted)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- the measurements ---------------------------------------------------------------------


@dataclass
class Ladder:
    loss_free_rate: int = 0
    cpu_per_line_ns: float = 0.0
    first_loss: str = ""
    peak_rss_mb: float = 0.0  #: the collector's, at the fastest rate without loss


def climb(start: Callable[[], contextlib.AbstractContextManager[Collector]], series: int, seconds: float) -> Ladder:
    """Each rate of LADDER in turn, a fresh collector each, until one loses lines."""
    packets = datagrams(series)
    ladder = Ladder()
    for rate in LADDER:
        with start() as collector:
            before = collector.counted()
            cpu = cpu_seconds(collector.process.pid)
            sent = send_from_another_process(collector.port, packets, rate, seconds)
            settled = time.monotonic()
            last = collector.counted()
            while time.monotonic() - settled < 4 and last - before < sent:  # flushes are 1 s apart
                time.sleep(0.25)
                last = collector.counted()
            used = cpu_seconds(collector.process.pid) - cpu
            peak = peak_rss_mb(collector.process.pid)
        lost = sent - (last - before)
        if lost:
            ladder.first_loss = f"{rate:,}/s: {lost:,} of {sent:,} lost"
            break
        ladder.loss_free_rate, ladder.cpu_per_line_ns, ladder.peak_rss_mb = rate, used / sent * 1e9, peak
    return ladder


def memory_per_series(start: Callable[[], contextlib.AbstractContextManager[Collector]], series: int) -> float:
    """Resident bytes grown per new counter series, none flushed meanwhile."""
    with start() as collector:
        time.sleep(1.0)
        before = resident_bytes(collector.process.pid)
        packets = datagrams(series, count=series)
        send_from_another_process(collector.port, packets, 100_000, series / 100_000)
        time.sleep(2.0)
        grown = resident_bytes(collector.process.pid) - before
    return grown / series


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="sending time at each rate")
    parser.add_argument("--series", type=int, default=1000, help="counter names the sender goes round")
    parser.add_argument("--memory-series", type=int, default=100_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as npm_folder, tempfile.TemporaryDirectory() as work:
        node_modules = npm_install(Path(npm_folder), ETSY_STATSD)
        workdir = Path(work)
        fast = {
            "numbatd": lambda: numbatd(workdir, 1.0),
            "numbatd, decoder": lambda: numbatd(workdir, 1.0, scan=False),
            "Etsy statsd": lambda: etsy_statsd(node_modules, workdir, 1000),
        }
        slow = {
            "numbatd": lambda: numbatd(workdir, 600.0),
            "numbatd, decoder": lambda: numbatd(workdir, 600.0, scan=False),
            "Etsy statsd": lambda: etsy_statsd(node_modules, workdir, 600_000),
        }
        ladders = {name: climb(start, args.series, args.seconds) for name, start in fast.items()}
        memory = {name: memory_per_series(start, args.memory_series) for name, start in slow.items()}

    print(
        f"counter lines over UDP, {LINES_PER_DATAGRAM} a datagram, {args.series} names, {args.seconds:g} s a rate; "
        f"sender in its own process; {os.cpu_count()} cores"
    )
    header = (
        f"{'collector':17} {'loss-free lines/s':>18} {'vs statsd':>10} {'CPU ns/line':>12} {'B/series':>9} "
        f"{'peak RSS MB':>12}  first loss"
    )
    print(header)
    print("-" * len(header))
    reference = ladders["Etsy statsd"].loss_free_rate
    for name, ladder in ladders.items():
        ratio = f"{ladder.loss_free_rate / reference:.1f}x" if reference else "-"
        print(
            f"{name:17} {ladder.loss_free_rate:>18,} {ratio:>10} {ladder.cpu_per_line_ns:>12,.0f} "
            f"{memory[name]:>9,.0f} {ladder.peak_rss_mb:>12,.1f}  "
            f"{ladder.first_loss or 'none up to ' + format(LADDER[-1], ',')}"
        )


if __name__ == "__main__":
    main()
