"""What the store is given to write, the same for every backend: day counts, a backfilled
object's rows and records, a counted file's record.

Strategy: plain data, no database. An object's rows are made in a backfill worker as one
JSON array (one bytes object crosses the process boundary, and both SQLite's
``json_each`` and PostgreSQL's ``jsonb_array_elements`` read it in one statement, quicker
than binding row after row).
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
    """An object's backfill rows, (package, day as YYYY-MM-DD, version, count), made in a
    backfill worker and written by the parent: one JSON array, with the days and packages
    it names, and ``totals``, what the rows add to each (package, day), a JSON array of
    (package, day, count) in that order (None when the rows are not of that shape, and
    the writer sums them itself). Summed here, in the workers, which run side by side,
    so that the one writer does not read the rows back to sum them (bench/store.py)."""

    json: bytes
    days: frozenset[str]
    packages: frozenset[str]
    totals: bytes | None = None

    @classmethod
    def of(cls, rows: list[tuple[str, str, str, int]]) -> ObjectRows:
        return cls(
            orjson.dumps(rows),
            frozenset(row[1] for row in rows),
            frozenset(row[0] for row in rows),
            package_day_totals(rows),
        )

    def tuples(self) -> list[tuple[str, str, str, int]]:
        return [tuple(row) for row in orjson.loads(self.json)]


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


def package_day_totals(rows: list[tuple[str, str, str, int]]) -> bytes | None:
    """The JSON array of (package, day, count) summed over ``rows``' versions, sorted;
    None for rows not of the form (text, text, text, integer)."""
    totals: dict[tuple[str, str], int] = {}
    for row in rows:
        if len(row) != 4 or type(row[3]) is not int or not isinstance(row[0], str) or not isinstance(row[1], str):
            return None
        key = (row[0], row[1])
        totals[key] = totals.get(key, 0) + row[3]
    try:
        return orjson.dumps([(package, day, n) for (package, day), n in sorted(totals.items())])
    except orjson.JSONEncodeError:  # a total past 64 bits: the writer's own sum refuses it
        return None


def object_rows(counts: DayCounts) -> ObjectRows:
    """The rows of one object's counts, in (package, day, version) order, the order of
    the tables' keys, which both backends insert quickest."""
    return ObjectRows.of(
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
