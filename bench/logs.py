"""numbat-logs' counter against GoAccess on the same generated registry logs, one run; and
how soon ``numbat-logs count`` is done with a one-line log.

    python bench/logs.py [--lines 1000000]

Two logs. The regular one is shaped like registry traffic: package popularity follows a
Zipf law, most requests are for metadata, about a third for tarballs (mostly of each
package's latest version), statuses mostly 200 with 304s, 404s, a few 206s and 5xx. The
messy one is as real CDNs write them (generate_messy): scoped and percent-encoded paths,
query strings, searches, HEAD, 206, 304, 404, nginx fields, and 3% damaged lines. Ours
counts each: the bulk counter in this process on one thread (the file read in 8 MiB
chunks; the scanner already compiled), and the whole `numbat-logs count` command
(interpreter start, imports, loading the compiled scanner, writing the store) with one
thread and with its default, one per core (chunks scanned side by side). GoAccess
(Debian's package), when installed, parses the same file into its JSON report; both
commands are timed the same way, wall clock from launch to exit, with their peak RSS.
The machine's load average is printed before and after: on a shared machine it weighs.

Startup: the median wall clock, launch to exit, of `numbat-logs count` on a one-line log
(a fresh store each run), beside that of `python -c pass`, the floor any Python command
pays. A log that small is counted by the line parser: loading numba and the compiled
scanner (about 0.4 s on the machines these figures come from) would cost more than
parsing the first MiB of lines does (COMPILE_AFTER, log_parser/core/_counter.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/ must not shadow packages
sys.path.insert(0, str(ROOT))  # the code of this checkout, whatever the virtualenv installed

from log_parser.core import Tally  # noqa: E402
from log_parser.core._bulk import BulkCounter, tally_buffer  # noqa: E402
from log_parser.core._counting import tally_lines  # noqa: E402
from log_parser.core.formats import CombinedParser  # noqa: E402

CHUNK = 8 << 20


def generate(path: Path, lines: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    names = [f"pkg-{i}" for i in range(4000)] + [f"@scope{i % 40}/lib-{i}" for i in range(1000)]
    weights = [1 / (rank + 1) for rank in range(len(names))]  # Zipf
    versions = {
        name: [f"{rnd.randrange(1, 9)}.{rnd.randrange(30)}.{v}" for v in range(rnd.randrange(1, 7))] for name in names
    }
    agents = [
        "npm/10.5.0 node/v20.12.0 linux x64 workspaces/false",
        "pnpm/9.1.0 npm/? node/v22.2.0 darwin arm64",
        "yarn/1.22.22 npm/? node/v18.20.2 linux x64",
        "Bun/1.1.8",
    ]
    start = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    picks = rnd.choices(names, weights, k=lines)
    with open(path, "w") as out:
        for i, name in enumerate(picks):
            moment = (start + dt.timedelta(milliseconds=i * 86)).strftime("%d/%b/%Y:%H:%M:%S")
            if rnd.random() < 0.35:
                known = versions[name]
                version = known[-1] if rnd.random() < 0.8 else rnd.choice(known)
                request = f"/{name}/-/{name.split('/')[-1]}-{version}.tgz"
            else:
                request = f"/{name}"
            status = rnd.choices((200, 304, 404, 206, 500), (80, 12, 5, 2, 1))[0]
            method = "GET" if rnd.random() < 0.98 else "HEAD"
            client = f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}"
            out.write(
                f'{client} - - [{moment} +0000] "{method} {request} HTTP/1.1" {status} {rnd.randrange(200, 900_000)} '
                f'"-" "{rnd.choice(agents)}"\n'
            )


def generate_messy(path: Path, lines: int, seed: int = 11) -> None:
    """A log as real registry CDNs write them: scoped packages, percent-encoded (``%40``,
    ``%2f``, ``%2F``) and absolute-URL paths, cache-busting query strings, metadata and
    search requests, HEAD, 206, 301, 304, 404, 429 and 5xx answers, sizes of ``-``, IPv6
    clients, non-ASCII user agents, nginx fields after the user agent; and about 3% damaged
    lines mixed in: cut short, TLS handshakes on the HTTP port, an empty request line, a
    time out of its ranges, invalid UTF-8, a field missing."""
    rnd = random.Random(seed)
    names = [f"pkg-{i}" for i in range(4000)] + [f"@scope{i % 40}/lib-{i}" for i in range(1000)]
    weights = [1 / (rank + 1) for rank in range(len(names))]
    versions = {name: [f"{rnd.randrange(1, 9)}.{rnd.randrange(30)}.{v}" for v in range(1, 4)] for name in names}
    agents = [
        "npm/10.5.0 node/v20.12.0 linux x64 workspaces/false",
        "pnpm/9.1.0 npm/? node/v22.2.0 darwin arm64",
        "yarn/1.22.22 npm/? node/v18.20.2 linux x64",
        "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0 Safari/537.36",
        "npm/10.2.4 node/v20.11.0 win32 x64 (Überprüfung)",
    ]
    start = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    with open(path, "wb") as out:
        for i, name in enumerate(rnd.choices(names, weights, k=lines)):
            moment = (start + dt.timedelta(milliseconds=i * 86)).strftime("%d/%b/%Y:%H:%M:%S")
            method = rnd.choices(("GET", "HEAD", "POST"), (95, 4, 1))[0]
            status = rnd.choices((200, 304, 404, 206, 301, 429, 500, 503), (70, 15, 8, 3, 1, 1, 1, 1))[0]
            size = "-" if status == 304 else str(rnd.randrange(200, 900_000))
            client = (
                f"2001:db8::{rnd.randrange(65536):x}"
                if rnd.random() < 0.1
                else f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}"
            )
            line = (
                f'{client} - - [{moment} +0000] "{method} {_messy_path(rnd, name, versions[name])} HTTP/1.1" '
                f'{status} {size} "-" "{rnd.choice(agents)}" rt=0.{rnd.randrange(1000):03} '
                f"cache={rnd.choice(('HIT', 'MISS'))}"
            ).encode()
            out.write(_damaged(rnd, line, f"{client} - - [{moment} +0000]") + b"\n")


def _messy_path(rnd: random.Random, name: str, versions: list[str]) -> str:
    """A tarball (often scoped and percent-encoded, now and then with a query string or as
    an absolute URL), a package's metadata, a search or its dist-tags."""
    scoped = name.startswith("@")
    roll = rnd.random()
    if roll < 0.35:
        spelled = name
        if scoped and rnd.random() < 0.5:
            spelled = name.replace("/", rnd.choice(("%2f", "%2F"))).replace("@", rnd.choice(("@", "%40")))
        path = f"/{spelled}/-/{name.rsplit('/', maxsplit=1)[-1]}-{rnd.choice(versions)}.tgz"
        if rnd.random() < 0.05:
            path += f"?cache={rnd.randrange(10**9)}"
        return "https://registry.example.org" + path if rnd.random() < 0.02 else path
    if roll < 0.9:
        return "/" + (name.replace("/", "%2f") if scoped else name)
    if roll < 0.95:
        return f"/-/v1/search?text={name}&size=20"
    return f"/-/package/{name}/dist-tags"


def _damaged(rnd: random.Random, line: bytes, prefix: str) -> bytes:
    """``line``, or about 3 times in 100 a damaged one."""
    damage = rnd.random()
    if damage < 0.01:
        return line[: rnd.randrange(10, len(line))]  # cut short
    if damage < 0.015:
        return f'{prefix} "\\x16\\x03\\x01\\x02\\x00\\x01" 400 157 "-" "-"'.encode()  # TLS on the HTTP port
    if damage < 0.02:
        return f'{prefix} "-" 400 0 "-" "-"'.encode()
    if damage < 0.025:
        return line.replace(b":", b":7", 1)  # hour 70: a bad time
    if damage < 0.028:
        return line[:20] + b"\xff\xfe" + line[20:]  # invalid UTF-8
    if damage < 0.03:
        return line.replace(b" - - ", b" - ", 1)  # a field missing
    return line


def ours(path: Path) -> tuple[float, Tally]:
    started = time.perf_counter()
    tally = Tally()
    counter = BulkCounter()
    with open(path, "rb") as log:
        rest = b""
        while block := log.read(CHUNK):
            data = rest + block
            cut = data.rfind(b"\n") + 1
            counter.count(data[:cut], tally)
            rest = data[cut:]
        if rest:
            counter.count(rest, tally)
    return time.perf_counter() - started, tally


def reference(path: Path, sample: int) -> Tally:
    """The line-at-a-time parser over the first ``sample`` lines, to check the fast path."""
    tally = Tally()
    with open(path, "rb") as log:
        lines = [line.decode("utf-8", "replace") for _, line in zip(range(sample), log, strict=False)]
    tally_lines(lines, CombinedParser(), tally)
    return tally


def timed(command: list[str]) -> tuple[float, float | None, float | None]:
    """Wall clock seconds, launch to exit, peak RSS in MB and CPU seconds (user and
    system, all threads) of a command; None for the last two without GNU time. They are
    GNU time's (``%M``, ``%U``, ``%S``): the kernel's peak for a child forked from this
    process would include this process's own pages, which it had before its exec."""
    gnu_time = shutil.which("time")
    with tempfile.NamedTemporaryFile("r") as figures:
        wrapped = [gnu_time, "-f", "%M %U %S", "-o", figures.name, *command] if gnu_time else command
        started = time.perf_counter()
        result = subprocess.run(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, check=False)
        seconds = time.perf_counter() - started
        if result.returncode not in (0, 3):
            raise RuntimeError(f"{command[:4]} exited {result.returncode}: {result.stderr.decode(errors='replace')}")
        last = figures.read().strip().splitlines()[-1:] if gnu_time else []
    if not last:
        return seconds, None, None
    kilobytes, user, system = last[0].split()
    return seconds, int(kilobytes) / 1024, float(user) + float(system)


def command(path: Path, folder: Path, run: int, *options: str) -> tuple[float, float | None, float | None]:
    """The whole command on a fresh store (on the same store, a second run would find the
    file counted already, and skip it): seconds, peak RSS and CPU seconds."""
    store = folder / f"d-{path.stem}-{run}-{len(options)}.db"
    return timed(
        [sys.executable, "-m", "log_parser", "count", "--format", "combined", "--db", str(store), *options, str(path)]
    )


def goaccess(path: Path, folder: Path) -> tuple[float, float | None, float | None] | None:
    """GoAccess's wall clock, peak RSS and CPU on the log, or None when it is not installed."""
    binary = shutil.which("goaccess")
    if binary is None:
        return None
    return timed([binary, str(path), "--log-format=COMBINED", "-o", str(folder / "report.json"), "--no-progress"])


def startup(folder: Path, runs: int) -> tuple[float, float, float]:
    """Median seconds, launch to exit, of ``numbat-logs count`` on a one-line log, of an
    interpreter that imports the compiled counter (scanner and tarball rule) and nothing
    else, and of ``python -c pass``."""
    log = folder / "one.log"
    log.write_text('203.0.113.9 - - [01/May/2024:12:00:07 +0000] "GET /pkg/-/pkg-1.0.0.tgz HTTP/1.1" 200 9 "-" "npm"\n')

    def wall_clock(command: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        return time.perf_counter() - started

    count = [sys.executable, "-m", "log_parser", "count", str(log)]
    ours = statistics.median(wall_clock([*count, "--db", str(folder / f"one-{n}.db")]) for n in range(runs))
    load_scanner = [sys.executable, "-c", "import log_parser.core._bulk"]  # the scanner and the compiled tarball rule
    scanner = statistics.median(wall_clock(load_scanner) for _ in range(runs))
    floor = statistics.median(wall_clock([sys.executable, "-c", "pass"]) for _ in range(runs))
    return ours, scanner, floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="ours: best of this many runs (a run is ~1 s)")
    parser.add_argument("--goaccess-rounds", type=int, default=1, help="GoAccess: best of this many (~20 s each)")
    parser.add_argument("--startup-runs", type=int, default=7, help="startup: the median of this many runs")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{load:.2f}' for load in os.getloadavg())} ({os.cpu_count()} cores)")
    rows: list[tuple[str, str, float, float | None, float | None]] = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for label, make in (("regular", generate), ("messy", generate_messy)):
            log = folder / f"{label}.log"
            make(log, args.lines)
            our_seconds, tally = min((ours(log) for _ in range(args.rounds)), key=lambda run: run[0])
            sample = min(args.lines, 100_000)
            assert figures(bulk_head(log, sample)) == figures(reference(log, sample)), (
                "the bulk counter must count as the parser does"
            )
            rejected = sum(tally.rejected.values())
            print(
                f"{label} log: {args.lines:,} lines ({log.stat().st_size / 1e6:.0f} MB), "
                f"{tally.total_downloads:,} downloads, {rejected:,} lines refused"
            )
            theirs = [run for run in (goaccess(log, folder) for _ in range(args.goaccess_rounds)) if run is not None]
            if theirs:
                seconds, rss, cpu = min(theirs, key=lambda run: run[0])
                rows.append((label, "GoAccess 1.7 -> JSON report", seconds, rss, cpu))
            rows.append((label, "bulk counter, in process, 1 thread", our_seconds, None, None))
            for title, options in (("count, 1 thread", ("--threads", "1")), ("count (whole command)", ())):
                runs = [command(log, folder, run, *options) for run in range(args.rounds)]
                seconds, rss, cpu = min(runs, key=lambda run: run[0])
                rows.append((label, f"numbat-logs {title}", seconds, rss, cpu))
        startup_seconds, scanner_seconds, floor_seconds = startup(folder, args.startup_runs)
    print(f"ours: best of {args.rounds} runs, GoAccess: best of {args.goaccess_rounds}; wall clock, launch to exit")
    print("\n| log | counter | seconds | lines/s | vs GoAccess | CPU s | peak RSS MB |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    goaccess_seconds = {row[0]: row[2] for row in rows if row[1].startswith("GoAccess")}
    for label, name, seconds, rss, cpu in rows:
        versus = f"{goaccess_seconds[label] / seconds:.1f}x" if label in goaccess_seconds else "-"
        memory = "-" if rss is None else f"{rss:.0f}"
        processor = "-" if cpu is None else f"{cpu:.2f}"
        print(f"| {label} | {name} | {seconds:.2f} | {args.lines / seconds:,.0f} | {versus} | {processor} | {memory} |")
    print(f"\nstartup, launch to exit (median of {args.startup_runs})")
    print(f"{'numbat-logs count, a one-line log':40} {startup_seconds:8.3f}")
    print(f"{'python importing the compiled counter':40} {scanner_seconds:8.3f}")
    print(f"{'python -c pass (the floor)':40} {floor_seconds:8.3f}")
    print(f"load average after: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


def figures(tally: Tally) -> tuple[object, ...]:
    return tally.downloads, tally.requests, tally.by_status_class, tally.bytes_served, tally.rejected


def bulk_head(path: Path, lines: int) -> Tally:
    """The bulk counter over the first ``lines`` lines, to compare with :func:`reference`."""
    with open(path, "rb") as log:
        return tally_buffer(b"".join(line for _, line in zip(range(lines), log, strict=False)))


if __name__ == "__main__":
    main()
