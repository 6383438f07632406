"""The downloads store: daily counts per package and version, in SQLite.

Three kinds of rows: ``live`` counts, added to as the live job flushes; ``file``
counts, one set per log file ``numbat-logs count`` read; and ``backfill`` counts, one set
per log object a backfill processed. Live and file counts are provisional, and add up: a
day no backfill has covered is answered from both. A day that a backfill has covered is
answered from the backfill rows only, so backfilled counts replace the provisional ones
instead of adding to them. Recounting a file replaces that file's rows and reprocessing
an object replaces that object's, so counting a file twice, or running a backfill twice,
changes nothing, and an object that arrives late adds only its own rows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from .core._records import FIRST_TIME, LAST_TIME

#: The rows of one kind of source, each naming its source (a backfilled object, a counted
#: file) by its short id in the source's own table, and found by package.
SOURCE_COUNTS = """
CREATE TABLE IF NOT EXISTS {table} (
    {source} {source_type} NOT NULL,  -- its id in {sources}: in every row, so short
    day TEXT NOT NULL,
    package TEXT NOT NULL,
    version TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY ({source}, package, day, version)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS {table}_by_package ON {table} (package, day);
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS live (
    day TEXT NOT NULL,
    package TEXT NOT NULL,
    version TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (package, day, version)
) WITHOUT ROWID;
{backfill}CREATE TABLE IF NOT EXISTS backfilled_days (day TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS packages (package TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS backfill_objects (
    id INTEGER PRIMARY KEY,
    object TEXT NOT NULL UNIQUE,
    -- what a backfill read, NULL for an object replaced without a record
    etag TEXT,
    size INTEGER,
    selection TEXT,
    lines INTEGER,
    downloads INTEGER,
    rejected INTEGER,
    finished TEXT
);
CREATE TABLE IF NOT EXISTS counted_files (
    id INTEGER PRIMARY KEY,
    file TEXT NOT NULL UNIQUE,  -- file:///its/absolute/resolved/path
    -- the version a count read, and its figures
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    downloads INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    finished TEXT NOT NULL
);
{file_counts}DROP VIEW IF EXISTS counts;
CREATE VIEW counts AS
    SELECT day, package, version, count FROM live WHERE day NOT IN (SELECT day FROM backfilled_days)
    UNION ALL
    SELECT day, package, version, count FROM file_counts WHERE day NOT IN (SELECT day FROM backfilled_days)
    UNION ALL
    SELECT day, package, version, count FROM backfill WHERE day IN (SELECT day FROM backfilled_days);
""".format(
    backfill=SOURCE_COUNTS.format(table="backfill", source="object", source_type="TEXT", sources="backfill_objects"),
    file_counts=SOURCE_COUNTS.format(
        table="file_counts", source="file", source_type="INTEGER", sources="counted_files"
    ),
)

#: The page cache of a bulk writer, MiB.
BULK_CACHE_MIB = 64

#: (package, version, day) -> downloads
DayCounts = Mapping[tuple[str, str, dt.date], int]


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


EPOCH = dt.date(1970, 1, 1)


class Store:
    def __init__(self, path: str | Path, *, read_only: bool = False, bulk_writer: bool = False) -> None:
        """``bulk_writer``, for a writer of many rows at once (the backfill): no fsync at
        each commit (SQLite's ``synchronous = NORMAL`` in WAL mode: a crash of the
        process still loses nothing committed, a power cut may lose the last commits; an
        object lost that way takes its record with it and the next run redoes it), and a
        page cache of ``BULK_CACHE_MIB`` (the index by package takes rows in no order,
        and inserting into it is slower with SQLite's default cache: see bench/backfill.py)."""
        self.path = str(path)
        if read_only:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        else:
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode = WAL")  # readers (the API) never block the writer
            if bulk_writer:
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._db.execute(f"PRAGMA cache_size = -{BULK_CACHE_MIB * 1024}")
            self._db.executescript(SCHEMA)
        self._packages_written: set[str] = set()
        self._packages_pending: set[str] = set()  #: written in the open transaction

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db:
            yield self._db

    # -- writing -------------------------------------------------------------------------

    def add_live(self, counts: DayCounts) -> None:
        """Add provisional counts (the live parser's flushes)."""
        rows = [(day.isoformat(), package, version, n) for (package, version, day), n in counts.items() if n]
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO live VALUES (?, ?, ?, ?) "
                "ON CONFLICT (package, day, version) DO UPDATE SET count = count + excluded.count",
                rows,
            )
            db.executemany("INSERT OR IGNORE INTO packages VALUES (?)", {(row[1],) for row in rows})

    def replace_file(self, name: str, counts: DayCounts, record: FileRecord) -> None:
        """The provisional counts of one log file, replacing any earlier count's of it,
        with its record, in one transaction: killed at any point, the store holds the
        file's earlier rows and record or its new ones, never a part or a mix."""
        rows = object_rows(counts)
        finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._transaction() as db:
            [(number,)] = db.execute(
                "INSERT INTO counted_files (file, size, mtime_ns, lines, downloads, rejected, finished) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (file) DO UPDATE SET size = excluded.size, "
                "mtime_ns = excluded.mtime_ns, lines = excluded.lines, downloads = excluded.downloads, "
                "rejected = excluded.rejected, finished = excluded.finished RETURNING id",
                (name, *dataclasses.astuple(record), finished),
            ).fetchall()
            db.execute("DELETE FROM file_counts WHERE file = ?", (number,))
            db.execute(
                "INSERT INTO file_counts (package, day, version, count, file) "
                "SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, ? FROM json_each(?)",
                (number, rows.json),
            )
            db.executemany("INSERT OR IGNORE INTO packages VALUES (?)", [(package,) for package in rows.packages])

    def replace_object(self, name: str, counts: DayCounts, record: ObjectRecord | None = None) -> None:
        """The counts of one backfilled log object, replacing any earlier run's, and its
        days marked as backfilled: from now on they are answered from backfill rows.
        ``record`` is written in the same transaction, so an object is either wholly
        recorded, counts and record, or not at all (whenever the process dies)."""
        self.replace_objects([BackfilledObject(name, object_rows(counts), record)])

    def replace_objects(self, objects: Iterable[BackfilledObject]) -> None:
        """:meth:`replace_object` for several objects, their rows made by
        :func:`object_rows` (in the backfill's workers), in one transaction: whole objects
        still, all of them or none, at a fraction of the cost of a commit each."""
        try:
            for item in objects:
                self.add_object(item)
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def add_object(self, item: BackfilledObject) -> None:
        """Write one backfilled object (rows, record, its days marked as backfilled) in
        the open transaction, replacing any earlier run's: none of it is kept before
        :meth:`commit`, and an error or an interruption inside it keeps nothing of it.
        The backfill writes each object as it arrives, while its workers read, so that a
        commit has little left to do, and the last one little to wait for."""
        db = self._db
        if not db.in_transaction:
            db.execute("BEGIN")
        db.execute("SAVEPOINT one_object")
        try:
            new_packages = self._write_object(db, item)
        except BaseException:
            db.execute("ROLLBACK TO one_object")
            db.execute("RELEASE one_object")
            raise
        db.execute("RELEASE one_object")
        self._packages_pending |= new_packages

    def commit(self) -> None:
        self._db.commit()
        self._packages_written |= self._packages_pending  # never deleted: no need to write them again
        self._packages_pending = set()

    def rollback(self) -> None:
        self._db.rollback()
        self._packages_pending = set()

    def _write_object(self, db: sqlite3.Connection, item: BackfilledObject) -> frozenset[str]:
        """The statements of :meth:`add_object`; the packages it wrote for the first time."""
        name, rows, record = item.name, item.rows, item.record
        db.execute("INSERT OR IGNORE INTO backfill_objects (object) VALUES (?)", (name,))
        (number,) = db.execute("SELECT id FROM backfill_objects WHERE object = ?", (name,)).fetchone()
        if record is not None:
            finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            db.execute(
                "UPDATE backfill_objects SET etag = ?, size = ?, selection = ?, lines = ?, downloads = ?, "
                "rejected = ?, finished = ? WHERE id = ?",
                (*dataclasses.astuple(record), finished, number),
            )
        # rows name their object by its id: a long name in every row makes the store larger
        # and its writing slower
        key = str(number)
        db.execute("DELETE FROM backfill WHERE object = ?", (key,))
        db.execute(
            "INSERT INTO backfill (package, day, version, count, object) "
            "SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, ? FROM json_each(?)",
            (key, rows.json),
        )
        days = rows.days if item.days is None else item.days
        db.executemany("INSERT OR IGNORE INTO backfilled_days VALUES (?)", [(day,) for day in days])
        new_packages = rows.packages - self._packages_written - self._packages_pending
        db.executemany("INSERT OR IGNORE INTO packages VALUES (?)", [(package,) for package in new_packages])
        return new_packages

    # -- reading -------------------------------------------------------------------------

    def known(self, package: str) -> bool:
        return self._db.execute("SELECT 1 FROM packages WHERE package = ?", (package,)).fetchone() is not None

    def daily(self, package: str | None, start: dt.date, end: dt.date) -> dict[dt.date, int]:
        """Downloads per day, ``start`` and ``end`` included, of one package or of all."""
        query = "SELECT day, SUM(count) FROM counts WHERE day BETWEEN ? AND ?"
        params: list[object] = [start.isoformat(), end.isoformat()]
        if package is not None:
            query += " AND package = ?"
            params.append(package)
        rows = self._db.execute(query + " GROUP BY day", params).fetchall()
        return {dt.date.fromisoformat(day): total for day, total in rows}

    def by_version(self, package: str, start: dt.date, end: dt.date) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT version, SUM(count) FROM counts WHERE package = ? AND day BETWEEN ? AND ? GROUP BY version",
            (package, start.isoformat(), end.isoformat()),
        ).fetchall()
        return dict(rows)

    def file_record(self, name: str) -> FileRecord | None:
        """The record of the file counted under ``name`` (its ``file://`` URI), if any."""
        row = self._db.execute(
            "SELECT size, mtime_ns, lines, downloads, rejected FROM counted_files WHERE file = ?", (name,)
        ).fetchone()
        return None if row is None else FileRecord(*row)

    def objects(self) -> set[str]:
        """The objects that have counts, by name."""
        rows = self._db.execute(
            "SELECT object FROM backfill_objects AS o "
            "WHERE EXISTS (SELECT 1 FROM backfill WHERE object = CAST(o.id AS TEXT))"
        )
        return {row[0] for row in rows}

    def object_records(self) -> dict[str, ObjectRecord]:
        """The objects a backfill finished, by name."""
        rows = self._db.execute(
            "SELECT object, etag, size, selection, lines, downloads, rejected FROM backfill_objects "
            "WHERE etag IS NOT NULL"
        ).fetchall()
        return {row[0]: ObjectRecord(*row[1:]) for row in rows}

    # -- reading for the API's extras and the downloads page (issue 19) --------------------
    # New queries only, in plain SQL that PostgreSQL also takes (``?`` placeholders aside):
    # first_day, top_versions, packages_starting.

    def first_day(self, package: str | None) -> dt.date | None:
        """The first day the store holds counts for, of one package or of any: where
        ``all-time`` starts, and how far back a range past npm's 18 months may reach."""
        if package is None:
            row = self._db.execute("SELECT MIN(day) FROM counts").fetchone()
        else:
            row = self._db.execute("SELECT MIN(day) FROM counts WHERE package = ?", (package,)).fetchone()
        return None if row is None or row[0] is None else dt.date.fromisoformat(row[0])

    def top_versions(self, package: str, start: dt.date, end: dt.date, limit: int) -> list[tuple[str, int]]:
        """The ``limit`` versions with the most downloads in the period, most first (ties
        by version, so the order is stable), for the page's split by version."""
        rows = self._db.execute(
            "SELECT version, SUM(count) AS total FROM counts WHERE package = ? AND day BETWEEN ? AND ? "
            "GROUP BY version ORDER BY total DESC, version LIMIT ?",
            (package, start.isoformat(), end.isoformat(), limit),
        ).fetchall()
        return [(version, int(total)) for version, total in rows]

    def packages_starting(self, prefix: str, limit: int) -> list[str]:
        """Up to ``limit`` known package names that start with ``prefix``, in order: the
        page's search. A range on the primary key (not LIKE, whose case rules differ
        between SQLite and PostgreSQL, and which escapes ``_`` and ``%``)."""
        rows = self._db.execute(
            "SELECT package FROM packages WHERE package >= ? AND package < ? ORDER BY package LIMIT ?",
            (prefix, prefix + "\U0010ffff", limit),
        ).fetchall()
        return [row[0] for row in rows]


@dataclass(frozen=True)
class ObjectRows:
    """An object's backfill rows, (package, day as YYYY-MM-DD, version, count), made in a
    backfill worker and written by the parent: one JSON array, which crosses the process
    boundary as one bytes object and which SQLite reads in one statement (``json_each``),
    quicker than binding row after row; with the days and packages it names."""

    json: bytes
    days: frozenset[str]
    packages: frozenset[str]

    @classmethod
    def of(cls, rows: list[tuple[str, str, str, int]]) -> ObjectRows:
        return cls(orjson.dumps(rows), frozenset(row[1] for row in rows), frozenset(row[0] for row in rows))

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


def object_rows(counts: DayCounts) -> ObjectRows:
    """The rows of one object's counts, in the table's own (package, day, version) order,
    which SQLite inserts quickest."""
    return ObjectRows.of(
        sorted((package, day.isoformat(), version, n) for (package, version, day), n in counts.items() if n)
    )


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
