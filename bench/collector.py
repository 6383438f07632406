"""numbatd against the real numbat-collector (Node, from the npm registry), same load,
one run: events/s end to end into a file sink, with loss and duplicates.

    python bench/collector.py [--events 200000]

TCP: one connection sends pre-encoded newline-delimited JSON as fast as the kernel
takes it, to both collectors. UDP at the sender's full speed: numbatd gets our
emitter's packed datagrams; numbat-collector gets one event per datagram (what
numbat-emitter sends, and all it can parse: it runs JSON.parse on each datagram).
Time runs from the first byte sent until the last event is in the file; a run whose
file stops growing for 3 s has lost the rest.
"""

from __future__ import annotations

import argparse
import contextlib
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

import emitter  # noqa: E402

NODE_COLLECTOR = "numbat-collector@1.1.0"
EVENT_NAME = b'"name":"bench.m"'


@dataclass
class Result:
    collector: str
    transport: str
    events: int
    seconds: float
    arrived: int
    duplicates: int

    @property
    def rate(self) -> float:
        return (self.arrived - self.duplicates) / self.seconds if self.seconds else 0.0

    @property
    def lost(self) -> int:
        return self.events - (self.arrived - self.duplicates)


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
        f'[[sinks]]\ntype = "jsonl"\npath = "{out}"\nfsync = "never"\nqueue_size = 1000000\n'
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
        with start(workdir, port, out):
            wait_port(transport, port)
            started = send(port)
            seconds, lines = count_arrivals(out, events, started)
        counts = values_of(lines)
        return Result(name, transport, events, seconds, sum(counts.values()), sum(c - 1 for c in counts.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the table shows the median run")
    parser.add_argument(
        "--node-modules", type=Path, help="a folder with numbat-collector installed (else installs one)"
    )
    args = parser.parse_args()
    n = args.events

    with tempfile.TemporaryDirectory() as npm_folder:
        node_modules = args.node_modules
        if node_modules is None:
            subprocess.run(
                [
                    "npm",
                    "install",
                    "--no-save",
                    "--no-package-lock",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    NODE_COLLECTOR,
                ],
                cwd=npm_folder,
                check=True,
                capture_output=True,
            )
            node_modules = Path(npm_folder) / "node_modules"
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
        runs: dict[int, list[Result]] = {index: [] for index in range(len(rows))}
        for _ in range(args.repeat):  # interleaved, so every row sees the same machine noise
            for index, (name, transport, start, send) in enumerate(rows):
                runs[index].append(run(name, transport, n, start, send))
        results = [sorted(found, key=lambda r: r.rate)[len(found) // 2] for found in runs.values()]

    print(
        f"{n} events per run, median of {args.repeat} runs, {os.cpu_count()} cores; file sink; sender in this process"
    )
    columns = ("seconds", "events/s", "lost", "duplicates", "vs Node")
    header = f"{'collector':18} {'transport':9} " + " ".join(f"{c:>10}" for c in columns)
    print(header)
    print("-" * len(header))
    node_rates = {r.transport: r.rate for r in results if r.collector == "numbat-collector"}
    for r in results:
        ratio = r.rate / node_rates[r.transport] if node_rates.get(r.transport) else float("nan")
        cells = (f"{r.seconds:.2f}", f"{r.rate:,.0f}", r.lost, r.duplicates, f"{ratio:.1f}x")
        print(f"{r.collector:18} {r.transport:9} " + " ".join(f"{c:>10}" for c in cells))


if __name__ == "__main__":
    main()
