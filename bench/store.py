"""A year of a registry in the downloads store, SQLite beside PostgreSQL.

    python bench/store.py [--days 365] [--rows-per-day 200000] [--packages 50000]
                          [--requests 1000] [--backends sqlite,postgresql] [--explain]

Generates ``--days`` days (ending yesterday) of ``--rows-per-day`` package-versions over
``--packages`` packages with a Zipf-like skew (package i takes a share 1/(i+1)^1.1 of the
downloads, and has more versions downloaded the more popular it is: a few packages take
most of the downloads and rows), and loads it into each store through the backfill's
write path (one object a day, ``add_object`` then ``commit``: what a backfill of a year's
daily logs writes). Then a real ``numbat-logs serve`` on each store answers requests on
one kept-alive connection, the packages drawn by popularity (popular packages are asked
for most, as on a registry): a point lookup (``last-day``), a one-package range
(``last-year``), a 128-package bulk point (``last-month``) and ``/versions/{pkg}/last-year``.
Last, the live flush of a minute of a busy CDN (``--minute-rows`` package-versions, about
npm's 2015 peak of 68M downloads a day spread over a minute's distinct tarballs), ten
times in a row onto today.

Prints rows, bytes on disk, load time and rows/s, latency p50/p99 and requests/s per
query, and the flush times; ``--explain`` adds the query plans of the range and versions
queries for the most popular package. The PostgreSQL server is Debian's, started here in
a temporary folder on 127.0.0.1 with its durable defaults (fsync on) and 512 MB of shared
buffers, and stopped by its PID. Goals: p99 < 20 ms for the one-package range and
< 100 ms for the bulk, on both; load >= 500k rows/s into PostgreSQL. The full size is
73M rows: PostgreSQL's run took about 6 minutes on 2 cores shared with other jobs
(load average 2); SQLite's did not finish in the time there was (it loaded 30M rows in
41 minutes, slower as its index by package outgrew the cache). A smaller ``--days``,
``--rows-per-day`` and ``--packages`` keep the same shape.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/ must not shadow packages
sys.path.insert(0, str(ROOT))  # the test suite's PostgreSQL helper

from log_parser.store import BackfilledObject, ObjectRows, Store, open_store  # noqa: E402
from log_parser.store import _postgresql as postgresql_queries  # noqa: E402
from log_parser.store import _sqlite as sqlite_queries  # noqa: E402
from tests.log_parser.postgres import PostgreSQL  # noqa: E402
from tests.waiting import wait_for  # noqa: E402

SKEW = 1.1
MAX_VERSIONS = 500
BULK = 128


class Registry:
    """Packages, their versions and their daily downloads, drawn once."""

    def __init__(self, packages: int, rows_per_day: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.names = [f"pkg-{i}" if i % 10 else f"@scope{i % 7}/pkg-{i}" for i in range(packages)]
        share = 1.0 / np.arange(1, packages + 1) ** SKEW
        self.share = share / share.sum()
        # versions per package grow with popularity, every package at least one, the
        # total the rows of a day
        # (at most MAX_VERSIONS a day: the busiest packages on npm have a few hundred
        # versions downloaded daily)
        weight = self.share**0.45 / (self.share**0.45).sum()
        low, high = float(rows_per_day), float(rows_per_day) * packages
        for _ in range(60):  # the scale at which the capped versions add up to the rows of a day
            middle = (low + high) / 2
            if np.minimum(MAX_VERSIONS, np.maximum(1, np.floor(weight * middle))).sum() > rows_per_day:
                high = middle
            else:
                low = middle
        versions = np.minimum(MAX_VERSIONS, np.maximum(1, np.floor(weight * low))).astype(np.int64)
        self.versions = versions
        self.rows_per_day = int(versions.sum())
        self.package_of_row = np.repeat(np.arange(packages), versions)
        self.version_of_row = np.concatenate([np.arange(v) for v in versions])
        # a version's share of its package: newer versions (lower numbers here) most
        version_share = 1.0 / (self.version_of_row + 1.0) ** 1.5
        package_total = np.bincount(self.package_of_row, weights=version_share)
        self.row_share = self.share[self.package_of_row] * version_share / package_total[self.package_of_row]
        self.version_names = [f"1.{v // 100}.{v % 100}" for v in range(int(versions.max()))]
        # the rows in the store's key order, (package, day, version): a day's are sorted once
        packages, numbers = self._packages, self._numbers = self.package_of_row.tolist(), self.version_of_row.tolist()
        self.sorted_rows = sorted(
            range(self.rows_per_day), key=lambda r: (self.names[packages[r]], self.version_names[numbers[r]])
        )
        self.rng = rng

    def day_rows(self, day: dt.date, downloads: float) -> list[tuple[str, str, str, int]]:
        """One day's rows, (package, day, version, count), in the store's key order."""
        counts = (self.rng.poisson(self.row_share * downloads) + 1).tolist()
        text = day.isoformat()
        names, versions = self.names, self.version_names
        packages, numbers = self._packages, self._numbers
        return [(names[packages[r]], text, versions[numbers[r]], counts[r]) for r in self.sorted_rows]

    def popular(self, rng: random.Random, count: int) -> list[str]:
        """Packages drawn by their popularity, as requests come."""
        return rng.choices(self.names, weights=self.share.tolist(), k=count)


def load(store: Store, registry: Registry, days: list[dt.date], downloads: float) -> tuple[int, float]:
    """Every day as one backfilled object; rows and the seconds the store took (the
    rows' making is not counted)."""
    rows = 0
    seconds = 0.0
    for number, day in enumerate(days):
        day_rows = registry.day_rows(day, downloads)
        item = BackfilledObject(f"bench/{day}.log.gz", ObjectRows.of(day_rows))
        started = time.perf_counter()
        store.add_object(item)
        store.commit()
        seconds += time.perf_counter() - started
        rows += len(day_rows)
        if number % 30 == 29:
            print(f"  {number + 1} days, {rows:,} rows, {rows / seconds:,.0f} rows/s", file=sys.stderr)
    return rows, seconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(location: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "log_parser", "serve", "--db", location, "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
    )

    def up() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    if not wait_for(up, 60):
        process.kill()
        raise RuntimeError("numbat-logs serve did not start")
    return process, port


def measure(port: int, paths: list[str]) -> tuple[float, float, float]:
    """p50 and p99 in ms, and requests/s, over ``paths`` on one kept-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for path in paths[:20]:  # warm the connection pool and the caches a little
        connection.request("GET", path)
        connection.getresponse().read()
    latencies = []
    started = time.perf_counter()
    for path in paths:
        before = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - before)
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status}")
    elapsed = time.perf_counter() - started
    connection.close()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return statistics.median(latencies) * 1000, p99 * 1000, len(paths) / elapsed


def quote(name: str) -> str:
    return name.replace("/", "%2F")


def live_flushes(store: Store, registry: Registry, rows: int, today: dt.date) -> list[float]:
    """Seconds of ten flushes of a minute's counts onto today (the first inserts, the
    others add to the same rows, as a live job's minutes do)."""
    rng = np.random.default_rng(1)
    picked = rng.choice(registry.rows_per_day, size=min(rows, registry.rows_per_day), replace=False, p=None)
    times = []
    for _ in range(10):
        counts = {
            (registry.names[registry.package_of_row[r]], registry.version_names[registry.version_of_row[r]], today): 1
            + int(rng.integers(0, 50))
            for r in picked.tolist()
        }
        started = time.perf_counter()
        store.add_live(counts)
        times.append(time.perf_counter() - started)
    return times


def size_of(location: str) -> int:
    if location.startswith("postgresql://"):
        store = open_store(location, read_only=True)
        try:
            (size,) = store._db.execute("SELECT pg_database_size(current_database())").fetchone()  # type: ignore[attr-defined]
            return int(size)
        finally:
            store.close()
    return sum(Path(location + suffix).stat().st_size for suffix in ("", "-wal") if Path(location + suffix).exists())


def explain(location: str, package: str, start: dt.date, end: dt.date) -> str:
    """The plans of the range (daily totals) and versions queries for ``package``."""
    store = open_store(location, read_only=True)
    db = store._db  # type: ignore[attr-defined]
    lines: list[str] = []
    try:
        if location.startswith("postgresql://"):
            daily, versions = postgresql_queries.DAILY, postgresql_queries.BY_VERSION  # the store's own
            params = {"package": package, "packages": [package], "start": start, "end": end}
            db.execute("SET jit = off")  # as the API's connections have it
            for title, query in (("range (daily totals)", daily), ("versions", versions)):
                lines.append(f"-- PostgreSQL, {title}, {package}")
                lines += [row[0] for row in db.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, params)]
        else:
            params = {
                "package": package,
                "packages": orjson.dumps([package]),
                "start": start.isoformat(),
                "end": end.isoformat(),
            }
            daily, versions = sqlite_queries.DAILY, sqlite_queries.BY_VERSION  # the store's own
            for title, query in (("range (daily totals)", daily), ("versions", versions)):
                lines.append(f"-- SQLite, {title}, {package}")
                lines += [f"{row[0]} {row[1]} {row[3]}" for row in db.execute("EXPLAIN QUERY PLAN " + query, params)]
    finally:
        store.close()
    return "\n".join(lines)


def bench(location: str, registry: Registry, args: argparse.Namespace) -> dict[str, object]:
    today = dt.datetime.now(dt.UTC).date()
    days = [today - dt.timedelta(days=n) for n in range(args.days, 0, -1)]
    store = open_store(location, bulk_writer=True)
    rows, seconds = load(store, registry, days, args.downloads_per_day)
    started = time.perf_counter()
    if location.startswith("postgresql://"):
        store._db.execute("VACUUM ANALYZE")  # type: ignore[attr-defined]
    else:
        store._db.execute("ANALYZE")  # type: ignore[attr-defined]
    analyze = time.perf_counter() - started
    store.close()
    result: dict[str, object] = {
        "rows": rows,
        "bytes": size_of(location),
        "load_seconds": seconds,
        "rows_per_second": rows / seconds,
        "analyze_seconds": analyze,
    }
    rng = random.Random(args.seed)
    n = args.requests
    queries = {
        "point (last-day)": [f"/downloads/point/last-day/{quote(p)}" for p in registry.popular(rng, n)],
        "range (last-year)": [f"/downloads/range/last-year/{quote(p)}" for p in registry.popular(rng, n)],
        f"bulk {BULK} (last-month)": [
            "/downloads/point/last-month/" + ",".join(quote(p) for p in registry.popular(rng, BULK))
            for _ in range(max(20, n // 10))
        ],
        "versions (last-year)": [f"/versions/{quote(p)}/last-year" for p in registry.popular(rng, max(50, n // 4))],
    }
    server, port = serve(location)
    try:
        for name, paths in queries.items():
            result[name] = measure(port, paths)
    finally:
        server.terminate()
        server.wait(20)
    store = open_store(location)
    result["flushes"] = live_flushes(store, registry, args.minute_rows, today)
    store.close()
    if args.explain:
        result["explain"] = explain(location, registry.names[0], days[0], days[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rows-per-day", type=int, default=200_000, help="package-versions downloaded a day")
    parser.add_argument("--packages", type=int, default=50_000)
    parser.add_argument("--downloads-per-day", type=float, default=68e6, help="npm's 2015 peak")
    parser.add_argument("--minute-rows", type=int, default=20_000, help="package-versions of a minute's live flush")
    parser.add_argument("--requests", type=int, default=1000, help="requests per query kind (bulk: a tenth)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--explain", action="store_true", help="print the query plans too")
    args = parser.parse_args()

    registry = Registry(args.packages, args.rows_per_day, args.seed)
    top = registry.versions[:3].tolist()
    print(
        f"{args.days} days x {registry.rows_per_day:,} package-versions over {args.packages:,} packages "
        f"(versions of the top three: {top}; top package's share of downloads {registry.share[0]:.1%})"
    )
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="numbat-bench-store-") as folder:
        for backend in args.backends.split(","):
            print(f"{backend}: loading...", file=sys.stderr)
            registry.rng = np.random.default_rng(args.seed)  # the same rows in each store
            if backend == "sqlite":
                results[backend] = bench(str(Path(folder) / "downloads.sqlite"), registry, args)
            else:
                server = PostgreSQL(Path(folder), durable=True).start()
                try:
                    results[backend] = bench(server.create_database(), registry, args)
                finally:
                    server.stop()
    names = list(results)
    print("\n| | " + " | ".join(names) + " |")
    print("| --- |" + " ---: |" * len(names))

    def row(label: str, values: list[str]) -> None:
        print(f"| {label} | " + " | ".join(values) + " |")

    row("rows", [f"{results[n]['rows']:,}" for n in names])
    row("bytes on disk", [f"{int(results[n]['bytes']) / 2**30:.2f} GiB" for n in names])  # type: ignore[call-overload]
    row("load (s)", [f"{results[n]['load_seconds']:.1f}" for n in names])
    row("load rows/s", [f"{results[n]['rows_per_second']:,.0f}" for n in names])
    row("analyze (s)", [f"{results[n]['analyze_seconds']:.1f}" for n in names])
    for query in [key for key in results[names[0]] if key.startswith(("point", "range", "bulk", "versions"))]:
        row(
            f"{query} p50 / p99 ms, req/s",
            [
                "{:.1f} / {:.1f}, {:,.0f}".format(*results[n][query])  # type: ignore[misc]
                for n in names
            ],
        )
    row(
        f"live flush of {args.minute_rows:,} rows, ms (first; median of the next 9)",
        [
            "{:.0f}; {:.0f}".format(
                results[n]["flushes"][0] * 1000,  # type: ignore[index]
                statistics.median(results[n]["flushes"][1:]) * 1000,  # type: ignore[index]
            )
            for n in names
        ],
    )
    for n in names:
        if "explain" in results[n]:
            print(f"\n{results[n]['explain']}")


if __name__ == "__main__":
    main()
