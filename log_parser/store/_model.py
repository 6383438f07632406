"""What the store is given to write, the same for every backend: day counts, a backfilled
object's rows and records, a counted file's record.

Strategy: plain data, no database. An object's rows are made in a backfill worker as one
JSON array (one bytes object crosses the process boundary, and each backend reads it in
one statement, quicker than binding row after row).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import orjson

from ..core._records import FIRST_TIME, LAST_TIME

#: (package, version, day) -> downloads
DayCounts = Mapping[tuple[str, str, dt.date], int]

#: The package name under which the daily totals tables keep the total of all packages
#: of a day: no package is named by the empty string.
ALL_PACKAGES = ""

EPOCH = dt.date(1970, 1, 1)

#: The counts the stores' 64-bit integers hold.
MIN_COUNT, MAX_COUNT = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class ObjectRecord:
    """What a backfill read of one object: the version it read (etag and size), the
    selection its counts were limited to ("" for none), and its figures. A rerun skips an
    object whose record matches what the listing shows."""

    etag: str
    size: int
    selection: str = ""
    lines: int = 0
    downloads: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class FileRecord:
    """What ``count`` read of one log file: the version it read (size and modification
    time, in ns) and its figures (``lines``: requests plus rejected lines). A rerun skips
    a file whose record matches what the file system shows."""

    size: int
    mtime_ns: int
    lines: int = 0
    downloads: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class ObjectRows:
    """An object's backfill rows, made in a backfill worker and written by the parent: a
    row per (day, package), with its total and its versions' counts, as one JSON array
    of ``[day as YYYY-MM-DD, package, total, {version: count, ...}]`` in (day, package)
    order, the order of the tables' keys; with the days and packages it names.

    One row per package and day, not per version: a day of a registry is 200,000
    package-versions but 50,000 packages, and each row costs the store an index entry
    and a tuple (bench/store.py). The rows are grouped and summed here, in the workers,
    which run side by side, so that the one writer only passes them on: SQLite reads the
    array with ``json_each``, and PostgreSQL's writer makes COPY's text of it by
    replacing delimiters (``_postgresql._copy_text``)."""

    json: bytes
    days: frozenset[str]
    packages: frozenset[str]

    @classmethod
    def of(cls, rows: Iterable[tuple[str, str, str, int]]) -> ObjectRows:
        """The rows of (package, day as YYYY-MM-DD, version, count) tuples: a version
        named twice is summed, a count of 0 left out. ValueError for a row of another
        shape, or a count the store's 64-bit integers cannot hold."""
        groups: dict[tuple[str, str], dict[str, int]] = {}
        for row in rows:
            if not (
                len(row) == 4
                and all(type(value) is str for value in row[:3])
                and type(row[3]) is int
                and MIN_COUNT <= row[3] <= MAX_COUNT
            ):
                raise ValueError(f"a row that is not (package, day, version, count): {row!r}")
            package, day, version, n = row
            if n:
                versions = groups.setdefault((day, package), {})
                versions[version] = versions.get(version, 0) + n
        return cls.grouped(groups)

    @classmethod
    def grouped(cls, groups: dict[tuple[str, str], dict[str, int]]) -> ObjectRows:
        """The rows of {(day, package): {version: count}}."""
        rows = []
        for (day, package), versions in sorted(groups.items()):
            if not versions:
                continue
            total = sum(versions.values())
            if not (MIN_COUNT <= total <= MAX_COUNT and all(MIN_COUNT <= n <= MAX_COUNT for n in versions.values())):
                raise ValueError(f"downloads of {package} on {day} past what the store's integers hold: {versions}")
            rows.append((day, package, total, versions))
        return cls(
            orjson.dumps(rows),
            frozenset(row[0] for row in rows),
            frozenset(row[1] for row in rows),
        )

    def tuples(self) -> list[tuple[str, str, str, int]]:
        """The rows as (package, day, version, count), in that order."""
        return sorted(
            (package, day, version, n)
            for day, package, _total, versions in orjson.loads(self.json)
            for version, n in versions.items()
        )


@dataclass(frozen=True)
class BackfilledObject:
    """One object's rows for :meth:`Store.replace_objects`. ``days`` (YYYY-MM-DD) are the
    days it vouches for, marked as backfilled; None for every day it has rows for. An
    hourly CDN log names its day but holds a few lines of the next one: vouching for that
    next day would hide its live counts behind those few lines."""

    name: str
    rows: ObjectRows
    record: ObjectRecord | None = None
    days: tuple[str, ...] | None = None

    def vouched_days(self) -> Iterable[str]:
        return self.rows.days if self.days is None else self.days


def object_rows(counts: DayCounts) -> ObjectRows:
    """The rows of one object's counts (see :class:`ObjectRows`)."""
    groups: dict[tuple[str, str], dict[str, int]] = {}
    days: dict[dt.date, str] = {}  # a day's text made once, not once per count
    for (package, version, day), n in counts.items():
        if n:
            text = days.get(day)
            if text is None:
                text = days[day] = day.isoformat()
            versions = groups.get((text, package))
            if versions is None:
                versions = groups[text, package] = {}
            versions[version] = n
    return ObjectRows.grouped(groups)


def flat_rows(counts: DayCounts) -> bytes:
    """The JSON array of (package, day as YYYY-MM-DD, version, count) rows of ``counts``,
    sorted: a counted file's rows, which both backends keep one per version."""
    return orjson.dumps(
        sorted((package, day.isoformat(), version, n) for (package, version, day), n in counts.items() if n)
    )


def daily_totals(counts: DayCounts) -> dict[tuple[str, dt.date], int]:
    """(package, day) -> downloads, and (ALL_PACKAGES, day) -> the day's total: what the
    daily totals tables gain from ``counts``."""
    totals: dict[tuple[str, dt.date], int] = {}
    for (package, _version, day), n in counts.items():
        totals[package, day] = totals.get((package, day), 0) + n
        totals[ALL_PACKAGES, day] = totals.get((ALL_PACKAGES, day), 0) + n
    return totals


def by_package(rows: Iterable[tuple[str, dt.date, int]]) -> dict[str, dict[dt.date, int]]:
    """(package, day, downloads) rows as each package's downloads by day, in day order,
    days of no downloads left out."""
    found: dict[str, dict[dt.date, int]] = {}
    for package, day, n in sorted(rows):
        if n:
            found.setdefault(package, {})[day] = int(n)
    return found


def to_day_counts(minute_counts: Iterable[tuple[tuple[str, str, int], int]]) -> dict[tuple[str, str, dt.date], int]:
    """Fold (package, version, minute) counts into (package, version, day). The parsers
    refuse times the store cannot name (see records.FIRST_TIME), so one here is a bug:
    ValueError, naming it."""
    days: dict[tuple[str, str, dt.date], int] = {}
    dates: dict[int, dt.date] = {}  # a date made once per day, not once per count
    for (package, version, minute), n in minute_counts:
        number = minute // 86400
        day = dates.get(number)
        if day is None:
            if not FIRST_TIME <= minute <= LAST_TIME:
                raise ValueError(f"a count of {package} {version} at {minute}, outside the days the store can name")
            day = dates[number] = EPOCH + dt.timedelta(days=number)
        key = (package, version, day)
        days[key] = days.get(key, 0) + n
    return days
