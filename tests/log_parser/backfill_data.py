"""Generated CDN log objects for the backfill tests, and a reference count over them that
shares nothing with the code under test (one regular expression, line by line)."""

from __future__ import annotations

import datetime as dt
import gzip
import random
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from log_parser.store import Store, open_store

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
PACKAGES = {
    "lodash": ["4.17.21", "4.17.20"],
    "@types/node": ["20.11.5", "18.19.3"],
    "is-number": ["7.0.0"],
    "left-pad": ["1.3.0", "1.0.0-beta.1"],
}
FIRST_DAY = dt.date(2026, 11, 18)


def log_line(rng: random.Random, when: dt.datetime) -> str:
    """A combined log line: mostly tarball downloads, some requests that are not
    downloads (HEAD, 304, 404, metadata), now and then a line that is garbage."""
    roll = rng.random()
    if roll < 0.01:
        return "garbage that is no log line at all"
    package = rng.choice(list(PACKAGES))
    version = rng.choice(PACKAGES[package])
    base = package.rsplit("/", 1)[-1]
    path = f"/{package}/-/{base}-{version}.tgz" if roll < 0.85 else f"/{package}"
    method = "HEAD" if roll < 0.05 else "GET"
    status = rng.choice([200] * 12 + [304, 404, 206])
    stamp = f"{when.day:02}/{MONTHS[when.month - 1]}/{when.year}:{when:%H:%M:%S} +0000"
    return f'198.51.100.{rng.randrange(256)} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {rng.randrange(1, 900000)} "-" "npm/10.2.4"'


def object_lines(seed: int, day: dt.date, hour: int, count: int) -> list[str]:
    """The lines of one hour's object; a few spill into the next hour, as CDN logs do."""
    rng = random.Random(seed)
    start = dt.datetime(day.year, day.month, day.day, hour)
    return [log_line(rng, start + dt.timedelta(seconds=rng.randrange(3600 + 120))) for _ in range(count)]


def object_name(day: dt.date, hour: int, index: int) -> str:
    """CloudFront's naming, under a dated folder."""
    return f"cdn/{day:%Y/%m/%d}/E2EXAMPLE.{day}-{hour:02}.{index:04x}.gz"


def generate(count: int, lines_per_object: int, days: int = 3, seed: int = 0) -> dict[str, list[str]]:
    """``count`` objects spread over ``days`` days, hours apart."""
    objects = {}
    for index in range(count):
        day = FIRST_DAY + dt.timedelta(days=index % days)
        hour = (index // days) % 24
        objects[object_name(day, hour, index)] = object_lines(seed * 100_003 + index, day, hour, lines_per_object)
    return objects


def gzipped(lines: list[str]) -> bytes:
    return gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=1)


def write_folder(folder: Path, objects: dict[str, list[str]]) -> None:
    for name, lines in objects.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzipped(lines))


REFERENCE = re.compile(
    r'\[(\d\d)/(\w{3})/(\d{4}):[^\]]*\] "(\w+) /((?:@[^/ ]+/)?[^/ ]+)/-/([^/ ]+)\.tgz HTTP/1\.1" (\d{3}) '
)


def reference_count(lines: Iterable[str]) -> Counter[tuple[str, str, dt.date]]:
    """Downloads per (package, version, day): GET, 200, /name/-/base-version.tgz."""
    counts: Counter[tuple[str, str, dt.date]] = Counter()
    for line in lines:
        match = REFERENCE.search(line)
        if match is None or match[4] != "GET" or match[7] != "200":
            continue
        package, filename = match[5], match[6]
        base = package.rsplit("/", 1)[-1]
        if not filename.startswith(base + "-"):
            continue
        day = dt.date(int(match[3]), MONTHS.index(match[2]) + 1, int(match[1]))
        counts[(package, filename[len(base) + 1 :], day)] += 1
    return counts


def store_counts(db: Path | str) -> Counter[tuple[str, str, dt.date]]:
    """What the store answers, per (package, version, day), through its ``counts`` view,
    once its daily totals are checked against it: each package's and each day's."""
    store = open_store(str(db), read_only=True)
    try:
        rows = store._db.execute(  # type: ignore[attr-defined]
            "SELECT package, version, day, SUM(count) FROM counts GROUP BY 1, 2, 3"
        ).fetchall()
        counts = Counter({(package, version, as_date(day)): int(n) for package, version, day, n in rows if n})
        check_daily_totals(store, counts)
    finally:
        store.close()
    return counts


def as_date(day: str | dt.date) -> dt.date:
    return day if isinstance(day, dt.date) else dt.date.fromisoformat(day)


def check_daily_totals(store: Store, counts: Counter[tuple[str, str, dt.date]]) -> None:
    """The store's daily answers (its daily totals tables) are the sums of its rows."""
    if not counts:
        return
    first, last = min(day for _, _, day in counts), max(day for _, _, day in counts)
    by_package: dict[str | None, Counter[dt.date]] = {}
    for (package, _version, day), n in counts.items():
        by_package.setdefault(package, Counter())[day] += n
        by_package.setdefault(None, Counter())[day] += n
    for package, days in by_package.items():
        assert store.daily(package, first, last) == dict(sorted(days.items())), package


def all_lines(objects: dict[str, list[str]]) -> list[str]:
    return [line for lines in objects.values() for line in lines]


W3C_HEADER = (
    "#Version: 1.0\n"
    "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
    "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol "
    "cs-bytes time-taken\n"
)
COMBINED = re.compile(
    r'^(\S+) - - \[(\d\d)/(\w{3})/(\d{4}):(\d\d:\d\d:\d\d) \+0000\] "(\w+) (\S+) HTTP/1\.1" (\d+) (\d+) '
)


def as_cloudfront(lines: list[str]) -> str:
    """The same requests as a CloudFront (W3C) log; a line that is not a request stays."""
    out = [W3C_HEADER]
    for line in lines:
        match = COMBINED.match(line)
        if match is None:
            out.append(line + "\n")
            continue
        ip, day, month, year, clock, method, path, status, size = match.groups()
        date = f"{year}-{MONTHS.index(month) + 1:02}-{day}"
        fields = [date, clock, "AMS50-C1", size, ip, method, "d1.cloudfront.net", path.replace("@", "%40"), status]
        fields += ["-", "npm/10.2.4", "-", "-", "Hit", "id==", "registry.example", "https", "180", "0.010"]
        out.append("\t".join(fields) + "\n")
    return "".join(out)
