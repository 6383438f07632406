"""numbatd against the real numbat-collector (Node, from the npm registry), same load,
one run: events/s end to end into a file sink, with loss and duplicates, and the peak
resident memory of each collector.

    python bench/collector.py [--events 200000] [--senders 3]

TCP: one connection sends pre-encoded newline-delimited JSON as fast as the kernel
takes it, to both collectors, and to "the limit": one plain Python process that reads
the same stream and validates each line with ``orjson.loads`` (what one process can
decode; numbatd may use more than one core). UDP at the sender's full speed: numbatd
gets our emitter's packed datagrams; numbat-collector gets one event per datagram (what
numbat-emitter sends, and all it can parse: it runs JSON.parse on each datagram).
Time runs from the first byte sent until the last event is in the file; a run whose
file stops growing for 3 s has lost the rest. numbatd's JSONL sink has the default queue
size with ``overflow = "block"``: a TCP sender waits rather than lose events.

Then numbatd's loss-free UDP rate: ``--senders`` processes send packed datagrams (20
events each) paced to a total rate, 2 s at each rate of a rising ladder, a fresh numbatd
at each; the table shows what the senders reached and what numbatd lost.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/ must not shadow packages
sys.path.insert(0, str(HERE.parent))  # bench._procs, and the tests' npm install

import emitter  # noqa: E402
from bench._procs import peak_rss_mb  # noqa: E402
from tests.collector.node import npm_install  # noqa: E402

NODE_COLLECTOR = "numbat-collector@1.1.0"
PER_DATAGRAM = 20
LADDER = (100_000, 200_000, 300_000, 400_000, 600_000, 800_000, 1_200_000, 1_600_000)
EVENT_NAME = b'"name":"bench.m"'


@dataclass
class Result:
    collector: str
    transport: str
    events: int
    seconds: float
    arrived: int
    duplicates: int
    peak_rss_mb: float = 0.0

    @property
    def rate(self) -> float:
        return (self.arrived - self.duplicates) / self.seconds if self.seconds else 0.0

    @property
    def lost(self) -> int:
        return self.events - (self.arrived - self.duplicates)


#: The limit: one Python process reading the TCP stream and validating each line with orjson.
LIMIT_READER = """
import socket, sys, time, orjson
server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
loads, count = orjson.loads, 0
while not count:  # a connection that only probes the port sends nothing
    connection, _ = server.accept()
    partial = b""
    while chunk := connection.recv(262144):
        lines = (partial + chunk).split(b"\\n")
        partial = lines.pop()
        for line in lines:
            loads(line)
        count += len(lines)
with open(sys.argv[2], "w") as out:
    out.write(f"{count} {time.monotonic()}")
"""


def limit_run(events: int, payload: bytes) -> Result:
    with tempfile.TemporaryDirectory() as folder:
        port, out = free_port(), Path(folder) / "done"
        proc = subprocess.Popen([sys.executable, "-c", LIMIT_READER, str(port), str(out)])
        try:
            wait_port("tcp", port)
            started = send_tcp(port, payload)
            proc.wait(300)
            count, finished = out.read_text().split()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return Result("limit: Python + orjson", "tcp", events, float(finished) - started, int(count), 0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(transport: str, port: int, timeout: float = 20) -> None:
    """Until something is bound to the port: a datagram sent earlier would be lost."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if transport == "tcp":
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        elif udp_bound(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {transport} port {port}")


def udp_bound(port: int) -> bool:
    """Linux lists bound UDP sockets in /proc/net/udp, the local port in hex."""
    wanted = f":{port:04X}"
    with open("/proc/net/udp") as table:
        return any(line.split()[1].endswith(wanted) for line in table.readlines()[1:])


@contextlib.contextmanager
def process(args: list[str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def numbatd(workdir: Path, transport: str, port: int, out: Path) -> contextlib.AbstractContextManager:
    config = workdir / "numbatd.toml"
    config.write_text(
        f'[[listeners]]\nurl = "{transport}://127.0.0.1:{port}"\n'
        f'[[sinks]]\ntype = "jsonl"\npath = "{out}"\nfsync = "never"\noverflow = "block"\n'
        f'[self_metrics]\nlisten = ""\n'
    )
    return process([sys.executable, "-m", "collector", "--config", str(config)], workdir)


def node_collector(
    node_modules: Path, workdir: Path, transport: str, port: int, out: Path
) -> contextlib.AbstractContextManager:
    config = workdir / "node-collector.js"
    listen = (
        f"{{ udp: true, host: '127.0.0.1', port: {port} }}"
        if transport == "udp"
        else f"{{ host: '127.0.0.1', port: {port} }}"
    )
    config.write_text(
        f"module.exports = {{ listen: {listen}, "
        f"outputs: [{{ type: 'log', name: 'bench', path: {str(out)!r} }}], logging: {{ silent: true }} }};\n"
    )
    node = shutil.which("node")
    assert node is not None
    return process([node, str(node_modules / "numbat-collector" / "bin" / "run-server.js"), str(config)], workdir)


def count_arrivals(out: Path, expected: int, started: float) -> tuple[float, list[bytes]]:
    """Wait until ``expected`` events are in ``out`` or it stops growing; (seconds, lines).
    Reads only what was appended since the last look: this process also sends."""
    seen = arrived = 0
    last_change = finished = time.monotonic()
    while True:
        size = out.stat().st_size if out.exists() else 0
        if size > seen:
            with open(out, "rb") as file:
                file.seek(seen)
                arrived += file.read(size - seen).count(EVENT_NAME)
            seen, last_change = size, time.monotonic()
            finished = last_change
            if arrived >= expected:
                break
        elif time.monotonic() - last_change > 3:
            break
        time.sleep(0.01)
    lines = [line for line in out.read_bytes().splitlines() if EVENT_NAME in line] if out.exists() else []
    return finished - started, lines


def values_of(lines: list[bytes]) -> Counter[int]:
    return Counter(orjson.loads(line)["value"] for line in lines)


def send_tcp(port: int, payload: bytes) -> float:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(payload)
    return started


def send_udp_packed(port: int, events: int) -> float:
    e = emitter.Emitter(f"udp://127.0.0.1:{port}", app="bench", max_backlog=events + 1, batch_size=5000)
    started = time.monotonic()
    for i in range(events):
        e.metric("m", i)
    e.close(timeout=60)
    return started


def send_udp_single(port: int, lines: list[bytes]) -> float:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        address = ("127.0.0.1", port)
        started = time.monotonic()
        for line in lines:
            sock.sendto(line, address)
    return started


def _paced_sender(port: int, datagrams: list[bytes], rate: float, ends, index: int, start_at: float) -> None:  # noqa: PLR0917
    """Send ``datagrams`` at ``rate`` a second from ``start_at`` (monotonic); note when done."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("127.0.0.1", port))
        while time.monotonic() < start_at:
            time.sleep(0.001)
        send = sock.send
        for at in range(0, len(datagrams), 10):
            ahead = start_at + at / rate - time.monotonic()
            if ahead > 0.0005:
                time.sleep(ahead)
            for datagram in datagrams[at : at + 10]:
                with contextlib.suppress(BlockingIOError, ConnectionRefusedError):
                    send(datagram)
        ends[index] = time.monotonic()


def udp_step(rate: int, senders: int, seconds: float = 2.0) -> tuple[float, Result]:
    """numbatd fed ``rate`` events/s of packed datagrams by ``senders`` processes: the
    rate the senders reached, and what arrived."""
    events = int(rate * seconds) // (senders * PER_DATAGRAM) * senders * PER_DATAGRAM
    host = socket.gethostname()
    lines = [
        orjson.dumps({"name": "bench.m", "value": i, "time": 1_700_000_000_000 + i, "host": host, "node": "n1"})
        for i in range(events)
    ]
    datagrams = [b"\n".join(lines[i : i + PER_DATAGRAM]) for i in range(0, events, PER_DATAGRAM)]
    context = multiprocessing.get_context("fork")
    ends = context.Array("d", senders)
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        port, out = free_port(), workdir / "out.jsonl"
        with numbatd(workdir, "udp", port, out) as proc:
            wait_port("udp", port)
            started = time.monotonic() + 0.5
            share = len(datagrams) // senders
            workers = [
                context.Process(
                    target=_paced_sender,
                    args=(
                        port,
                        datagrams[k * share : (k + 1) * share],
                        rate / PER_DATAGRAM / senders,
                        ends,
                        k,
                        started,
                    ),
                )
                for k in range(senders)
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            seconds, arrived_lines = count_arrivals(out, events, started)
            rss = peak_rss_mb(proc.pid)
    counts = values_of(arrived_lines)
    sent_rate = events / (max(ends) - started)
    arrived, duplicates = sum(counts.values()), sum(c - 1 for c in counts.values())
    return sent_rate, Result("numbatd", "udp", events, seconds, arrived, duplicates, rss)


def udp_ladder(senders: int) -> list[tuple[int, float, Result]]:
    """Rising rates until numbatd loses events twice in a row."""
    steps = []
    losses = 0
    for rate in LADDER:
        sent_rate, result = udp_step(rate, senders)
        steps.append((rate, sent_rate, result))
        losses = losses + 1 if result.lost else 0
        if losses == 2:
            break
    return steps


def run(
    name: str,
    transport: str,
    events: int,
    start: Callable[[Path, int, Path], contextlib.AbstractContextManager],
    send: Callable[[int], float],
) -> Result:
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        port = free_port()
        out = workdir / "out.jsonl"
        with start(workdir, port, out) as proc:
            wait_port(transport, port)
            started = send(port)
            seconds, lines = count_arrivals(out, events, started)
            rss = peak_rss_mb(proc.pid)
        counts = values_of(lines)
        arrived, duplicates = sum(counts.values()), sum(c - 1 for c in counts.values())
        return Result(name, transport, events, seconds, arrived, duplicates, rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the table shows the median run")
    parser.add_argument("--senders", type=int, default=3, help="processes sending UDP in the loss-free ladder")
    parser.add_argument(
        "--node-modules", type=Path, help="a folder with numbat-collector installed (else installs one)"
    )
    args = parser.parse_args()
    n = args.events

    with tempfile.TemporaryDirectory() as npm_folder:
        node_modules = args.node_modules
        if node_modules is None:
            node_modules = npm_install(Path(npm_folder), NODE_COLLECTOR)
        host = socket.gethostname()
        lines = [
            orjson.dumps({"name": "bench.m", "value": i, "time": 1_700_000_000_000 + i, "host": host, "node": "n1"})
            for i in range(n)
        ]
        tcp_payload = b"\n".join(lines) + b"\n"
        node = lambda transport: lambda w, p, o: node_collector(node_modules, w, transport, p, o)  # noqa: E731
        ours = lambda transport: lambda w, p, o: numbatd(w, transport, p, o)  # noqa: E731
        rows = [
            ("numbatd", "tcp", ours("tcp"), lambda port: send_tcp(port, tcp_payload)),
            ("numbat-collector", "tcp", node("tcp"), lambda port: send_tcp(port, tcp_payload)),
            ("numbatd", "udp", ours("udp"), lambda port: send_udp_packed(port, n)),
            ("numbat-collector", "udp", node("udp"), lambda port: send_udp_single(port, lines)),
        ]
        runs: dict[int, list[Result]] = {index: [] for index in range(len(rows) + 1)}
        for _ in range(args.repeat):  # interleaved, so every row sees the same machine noise
            runs[len(rows)].append(limit_run(n, tcp_payload))
            for index, (name, transport, start, send) in enumerate(rows):
                runs[index].append(run(name, transport, n, start, send))
        results = [sorted(found, key=lambda r: r.rate)[len(found) // 2] for found in runs.values()]
        results = [results[-1], *results[:-1]]
        ladder = udp_ladder(args.senders)

    print(
        f"{n} events per run, median of {args.repeat} runs, {os.cpu_count()} cores; file sink; sender in this process"
    )
    columns = ("seconds", "events/s", "lost", "duplicates", "vs Node", "vs limit", "peak RSS MB")
    header = f"{'collector':24} {'transport':9} " + " ".join(f"{c:>11}" for c in columns)
    print(header)
    print("-" * len(header))
    node_rates = {r.transport: r.rate for r in results if r.collector == "numbat-collector"}
    limit = results[0].rate
    for r in results:
        ratio = f"{r.rate / node_rates[r.transport]:.1f}x" if node_rates.get(r.transport) else "-"
        vs_limit = f"{r.rate / limit:.2f}x" if r.transport == "tcp" else "-"
        rss = f"{r.peak_rss_mb:.0f}" if r.peak_rss_mb else "-"
        cells = (f"{r.seconds:.2f}", f"{r.rate:,.0f}", r.lost, r.duplicates, ratio, vs_limit, rss)
        print(f"{r.collector:24} {r.transport:9} " + " ".join(f"{c:>11}" for c in cells))
    print()
    print(f"numbatd over UDP, {args.senders} sending processes, {PER_DATAGRAM} events a datagram, 2 s a rate")
    names = ("asked events/s", "sent events/s", "arrived", "lost", "duplicates", "peak RSS MB")
    header = " ".join(f"{name:>15}" for name in names)
    print(header)
    print("-" * len(header))
    for asked, sent, r in ladder:
        cells = (f"{asked:,}", f"{sent:,.0f}", f"{r.arrived - r.duplicates:,}", f"{r.lost:,}", r.duplicates)
        print(" ".join(f"{cell:>15}" for cell in cells) + f" {r.peak_rss_mb:15.0f}")
    clean = [sent for _, sent, r in ladder if not r.lost and not r.duplicates]
    print(f"loss-free up to {max(clean):,.0f} events/s sent" if clean else "no rate was loss-free")


if __name__ == "__main__":
    main()
