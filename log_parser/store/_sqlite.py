"""The downloads store in SQLite: the embedded default, one file.

The semantics are :class:`~._base.Store`'s. SQLite lets one writer in at a time (the
database lock, waited for up to ``BUSY_TIMEOUT`` seconds), so several processes may write
one file at once and each transaction is whole; readers (the API) never block the writer
(WAL). Strategy: rows are inserted from one JSON array per statement (``json_each``), and
each write adds what it changed to the daily totals tables in the same transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import orjson

from ._base import COUNTS_VIEW, SCHEMA_VERSION, Store, StoreError, check_version
from ._model import (
    ALL_PACKAGES,
    BackfilledObject,
    DayCounts,
    FileRecord,
    ObjectRecord,
    by_package,
    daily_totals,
    flat_rows,
)

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

#: Version 1, as stores made before versions were recorded have it (every statement
#: ``IF NOT EXISTS``: a store older still gains the tables it lacks).
SCHEMA_1 = """
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

#: Version 2: the daily totals, filled from the rows a store of version 1 holds.
SCHEMA_2 = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE provisional_daily (
    package TEXT NOT NULL,  -- '' for the day's total of all packages
    day TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (package, day)
) WITHOUT ROWID;
CREATE TABLE backfill_daily (
    package TEXT NOT NULL,
    day TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (package, day)
) WITHOUT ROWID;
INSERT INTO provisional_daily
    SELECT package, day, SUM(count) FROM (
        SELECT package, day, count FROM live UNION ALL SELECT package, day, count FROM file_counts
    ) GROUP BY package, day
    UNION ALL
    SELECT '', day, SUM(count) FROM (
        SELECT day, count FROM live UNION ALL SELECT day, count FROM file_counts
    ) GROUP BY day;
INSERT INTO backfill_daily
    SELECT package, day, SUM(count) FROM backfill GROUP BY package, day
    UNION ALL
    SELECT '', day, SUM(count) FROM backfill GROUP BY day;
"""

#: Version 4: the backfill's rows one per (day, package, object), keyed in that order,
#: not per (object, package, day, version) with an index by package: a day's rows (its
#: 50,000 packages, not its 200,000 package-versions) go into one place of the table, its
#: end when days come in order, and the pages a load changes stay few and in the cache
#: however large the store (bench/store.py: at a year, the index by package had
#: outgrown the cache, and loading had slowed ninefold). A row holds its
#: total and its versions' counts as a JSON object; ``backfill_rows`` gives them back a
#: version a row. ``backfill_daily`` keyed by (day, package) for the same reason; ranges
#: read it a backfilled day at a time.
SCHEMA_4 = f"""
CREATE TABLE backfill_4 (
    day TEXT NOT NULL,
    package TEXT NOT NULL,
    object INTEGER NOT NULL,  -- its id in backfill_objects
    total INTEGER NOT NULL,  -- the sum of its versions' counts
    versions TEXT NOT NULL,  -- a JSON object, each version's count
    PRIMARY KEY (day, package, object)
) WITHOUT ROWID;
INSERT INTO backfill_4
    SELECT day, package, object, SUM(count), json_group_object(version, count) FROM (
        SELECT day, package, CAST(object AS INTEGER) AS object, version, SUM(count) AS count
        FROM backfill GROUP BY 1, 2, 3, 4
    ) GROUP BY 1, 2, 3;
DROP VIEW counts;
DROP TABLE backfill;
ALTER TABLE backfill_4 RENAME TO backfill;
CREATE INDEX backfill_by_object ON backfill (object);
CREATE VIEW backfill_rows AS
    SELECT object, day, package, v.key AS version, v.value AS count FROM backfill, json_each(backfill.versions) AS v;
{COUNTS_VIEW}CREATE TABLE backfill_daily_4 (
    package TEXT NOT NULL,  -- '' for the day's total of all packages
    day TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, package)
) WITHOUT ROWID;
INSERT INTO backfill_daily_4 SELECT package, day, count FROM backfill_daily;
DROP TABLE backfill_daily;
ALTER TABLE backfill_daily_4 RENAME TO backfill_daily;
"""

#: MIGRATIONS[n] brings a store of version n to n + 1. Version 3 changed PostgreSQL's
#: indexes only (_postgresql.py): nothing to do here.
MIGRATIONS = {0: SCHEMA_1, 1: SCHEMA_2, 2: "", 3: SCHEMA_4}

#: The page cache of a bulk writer, MiB: the pages a day's rows and totals go into stay in
#: it between the statements that write them (bench/store.py: a little quicker than
#: SQLite's default of 2 MiB).
BULK_CACHE_MIB = 256
#: The pages a bulk writer lets the WAL grow to before it copies them back into the
#: database (SQLite's default is 1,000, 4 MB, less than one object's writing): a page
#: written by several commits is copied back once, and the copying (with its fsync) comes
#: every few hundred MB instead of at each commit (bench/store.py: a day's commit took
#: half as long). The WAL file keeps its largest size (about this many pages of 4 KiB).
BULK_WAL_PAGES = 65536
#: Seconds a writer waits for another's transaction (SQLite lets one in at a time).
BUSY_TIMEOUT = 60.0

#: Add (package, day, count) rows to a daily totals table.
ADD_TO_DAILY = (
    "INSERT INTO {table} (package, day, count) {rows} ON CONFLICT ({key}) DO UPDATE SET count = count + excluded.count"
)
PROVISIONAL_KEY, BACKFILL_KEY = "package, day", "day, package"
#: (package, day, count) of an object's rows (``:sign`` 1 or -1), and by day for all
#: packages: what they add to (or take off) ``backfill_daily``. ``{rows}`` are
#: (day, package, total) rows: the table's, or the worker's JSON array's.
OBJECT_DAILY = (
    "SELECT package, day, :sign * total FROM {rows} "
    "UNION ALL SELECT '', day, :sign * SUM(total) FROM {rows} GROUP BY day"
)
STORED_ROWS = "(SELECT day, package, total FROM backfill WHERE object = :key)"
NEW_ROWS = "(SELECT value ->> 0 AS day, value ->> 1 AS package, value ->> 2 AS total FROM json_each(:rows))"
#: A file's rows added to (``{sign}`` "") or taken off ("-") ``provisional_daily``, by
#: (package, day) and by day for all packages.
FILE_DAILY = ADD_TO_DAILY.format(
    table="provisional_daily",
    key=PROVISIONAL_KEY,
    rows="SELECT package, day, {sign}SUM(count) FROM file_counts WHERE file = :key GROUP BY package, day "
    "UNION ALL SELECT '', day, {sign}SUM(count) FROM file_counts WHERE file = :key GROUP BY day",
)


#: Packages' (or all packages') downloads a day: a day is in one of the two tables'
#: answers, backfilled or not; the backfilled days' totals found a day at a time by
#: (day, package), each day's packages by one descent of the index each.
DAILY = (
    "SELECT package, day, count FROM provisional_daily WHERE package IN (SELECT value FROM json_each(:packages)) "
    "AND day BETWEEN :start AND :end AND day NOT IN (SELECT day FROM backfilled_days) "
    "UNION ALL "
    "SELECT p.package, p.day, p.count FROM backfilled_days AS b JOIN backfill_daily AS p "
    "ON p.day = b.day AND p.package IN (SELECT value FROM json_each(:packages)) WHERE b.day BETWEEN :start AND :end"
)
#: A package's downloads by version over the days: the view ``counts`` by hand, so that
#: the backfill's rows are found a backfilled day at a time by (day, package).
BY_VERSION = (
    "SELECT version, SUM(count) FROM ("
    "SELECT version, count FROM live WHERE package = :package AND day BETWEEN :start AND :end "
    "AND day NOT IN (SELECT day FROM backfilled_days) "
    "UNION ALL "
    "SELECT version, count FROM file_counts WHERE package = :package AND day BETWEEN :start AND :end "
    "AND day NOT IN (SELECT day FROM backfilled_days) "
    "UNION ALL "
    "SELECT v.key, v.value FROM backfilled_days AS b JOIN backfill AS r ON r.day = b.day "
    "AND r.package = :package, json_each(r.versions) AS v WHERE b.day BETWEEN :start AND :end"
    ") GROUP BY version"
)
#: The first day with downloads of a package (or of all): the provisional days' least,
#: and the first backfilled day that has the package, looked up a day at a time in order.
FIRST_DAY = (
    "SELECT MIN(day) FROM ("
    "SELECT MIN(day) AS day FROM provisional_daily WHERE package = :package AND count <> 0 "
    "AND day NOT IN (SELECT day FROM backfilled_days) "
    "UNION ALL "
    "SELECT * FROM (SELECT b.day FROM backfilled_days AS b WHERE EXISTS (SELECT 1 FROM backfill_daily AS p "
    "WHERE p.day = b.day AND p.package = :package AND p.count <> 0) ORDER BY b.day LIMIT 1))"
)


class SQLiteStore(Store):
    Error: ClassVar[type[Exception]] = sqlite3.Error

    def __init__(self, path: str | Path, *, read_only: bool = False, bulk_writer: bool = False) -> None:
        """``bulk_writer``, for a writer of many rows at once (the backfill): no fsync at
        each commit (SQLite's ``synchronous = NORMAL`` in WAL mode: a crash of the
        process still loses nothing committed, a power cut may lose the last commits; an
        object lost that way takes its record with it and the next run redoes it), a page
        cache of ``BULK_CACHE_MIB``, and a WAL of up to ``BULK_WAL_PAGES`` before a
        checkpoint (what is committed is in the WAL: the checkpoint moves it, and neither
        durability nor readers change)."""
        self.path = str(path)
        opened: sqlite3.Connection | None = None
        try:
            if read_only:
                self._db = opened = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
                check_version(self._version(), self.path, read_only=True)
            else:
                self._db = opened = sqlite3.connect(self.path, check_same_thread=False, timeout=BUSY_TIMEOUT)
                self._db.execute("PRAGMA journal_mode = WAL")  # readers (the API) never block the writer
                if bulk_writer:
                    self._db.execute("PRAGMA synchronous = NORMAL")
                    self._db.execute(f"PRAGMA cache_size = -{BULK_CACHE_MIB * 1024}")
                    self._db.execute(f"PRAGMA wal_autocheckpoint = {BULK_WAL_PAGES}")
                self._migrate()
        except BaseException as exc:
            if opened is not None:
                opened.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"{self.path}: {exc}") from exc
            raise
        self._packages_written: set[str] = set()
        self._packages_pending: set[str] = set()  #: written in the open transaction

    def _version(self) -> int:
        """The schema's version: 0 for an empty file, 1 for a store made before versions
        were recorded (it has the live table)."""
        db = self._db
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "schema_version" in tables:
            (version,) = db.execute("SELECT version FROM schema_version").fetchone()
            return int(version)
        return 1 if "live" in tables else 0

    def _migrate(self) -> None:
        """Create or upgrade the schema, in one transaction that holds the write lock
        (another process opening the store at once waits, then finds it done)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            version = self._version()
            check_version(version, self.path, read_only=False)
            if version == 1:
                # a store of version 1 written before it was recorded may lack tables
                # that an older one lacked; its script adds what is missing
                for statement in _statements(SCHEMA_1):
                    db.execute(statement)
            while version < SCHEMA_VERSION:
                for statement in _statements(MIGRATIONS[version]):
                    db.execute(statement)
                version += 1
                if version > 1:
                    db.execute("UPDATE schema_version SET version = ?", (version,))
        except BaseException:
            db.rollback()
            raise
        db.commit()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")  # the write lock first: no deadlock with another writer
            yield self._db

    # -- writing -------------------------------------------------------------------------

    def add_live(self, counts: DayCounts) -> None:
        rows = [(day.isoformat(), package, version, n) for (package, version, day), n in counts.items() if n]
        totals = [(package, day.isoformat(), n) for (package, day), n in daily_totals(counts).items() if n]
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO live VALUES (?, ?, ?, ?) "
                "ON CONFLICT (package, day, version) DO UPDATE SET count = count + excluded.count",
                rows,
            )
            db.executemany(
                ADD_TO_DAILY.format(table="provisional_daily", key=PROVISIONAL_KEY, rows="VALUES (?, ?, ?)"), totals
            )
            db.executemany("INSERT OR IGNORE INTO packages VALUES (?)", {(row[1],) for row in rows})

    def replace_file(self, name: str, counts: DayCounts, record: FileRecord) -> None:
        finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._transaction() as db:
            [(number,)] = db.execute(
                "INSERT INTO counted_files (file, size, mtime_ns, lines, downloads, rejected, finished) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (file) DO UPDATE SET size = excluded.size, "
                "mtime_ns = excluded.mtime_ns, lines = excluded.lines, downloads = excluded.downloads, "
                "rejected = excluded.rejected, finished = excluded.finished RETURNING id",
                (name, *dataclasses.astuple(record), finished),
            ).fetchall()
            # the file's old rows off the daily totals and out, its new ones in and on them
            params = {"key": number}
            db.execute(FILE_DAILY.format(sign="-"), params)
            db.execute("DELETE FROM file_counts WHERE file = :key", params)
            db.execute(
                "INSERT INTO file_counts (package, day, version, count, file) "
                "SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, ? FROM json_each(?)",
                (number, flat_rows(counts).decode()),
            )
            db.execute(FILE_DAILY.format(sign=""), params)
            packages = {(package,) for (package, _version, _day), n in counts.items() if n}
            db.executemany("INSERT OR IGNORE INTO packages VALUES (?)", packages)

    def add_object(self, item: BackfilledObject) -> None:
        db = self._db
        if not db.in_transaction:
            db.execute("BEGIN IMMEDIATE")
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
        found = db.execute("SELECT id FROM backfill_objects WHERE object = ?", (name,)).fetchone()
        if found is None:
            (number,) = db.execute("INSERT INTO backfill_objects (object) VALUES (?) RETURNING id", (name,)).fetchone()
        else:  # an earlier run's rows off the daily totals, and out
            (number,) = found
            params = {"key": number, "sign": -1}
            db.execute(
                ADD_TO_DAILY.format(
                    table="backfill_daily", key=BACKFILL_KEY, rows=OBJECT_DAILY.format(rows=STORED_ROWS)
                ),
                params,
            )
            db.execute("DELETE FROM backfill WHERE object = :key", params)
        if record is not None:
            finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            db.execute(
                "UPDATE backfill_objects SET etag = ?, size = ?, selection = ?, lines = ?, downloads = ?, "
                "rejected = ?, finished = ? WHERE id = ?",
                (*dataclasses.astuple(record), finished, number),
            )
        params = {"key": number, "rows": rows.json.decode(), "sign": 1}
        db.execute(
            "INSERT INTO backfill (day, package, object, total, versions) "
            "SELECT value ->> 0, value ->> 1, :key, value ->> 2, value ->> 3 FROM json_each(:rows)",
            params,
        )
        db.execute(
            ADD_TO_DAILY.format(table="backfill_daily", key=BACKFILL_KEY, rows=OBJECT_DAILY.format(rows=NEW_ROWS)),
            params,
        )
        db.executemany("INSERT OR IGNORE INTO backfilled_days VALUES (?)", [(day,) for day in item.vouched_days()])
        new_packages = rows.packages - self._packages_written - self._packages_pending
        db.executemany("INSERT OR IGNORE INTO packages VALUES (?)", [(package,) for package in new_packages])
        return new_packages

    # -- reading -------------------------------------------------------------------------

    def known_among(self, packages: Sequence[str]) -> set[str]:
        rows = self._db.execute(
            "SELECT package FROM packages WHERE package IN (SELECT value FROM json_each(?))",
            (_json_text(packages),),
        )
        return {row[0] for row in rows}

    def daily_of(self, packages: Sequence[str], start: dt.date, end: dt.date) -> dict[str, dict[dt.date, int]]:
        rows = self._db.execute(
            DAILY, {"packages": _json_text(packages), "start": start.isoformat(), "end": end.isoformat()}
        ).fetchall()
        return by_package((package, dt.date.fromisoformat(day), n) for package, day, n in rows)

    def by_version(self, package: str, start: dt.date, end: dt.date) -> dict[str, int]:
        rows = self._db.execute(
            BY_VERSION,
            {"package": package, "start": start.isoformat(), "end": end.isoformat()},
        ).fetchall()
        return {version: total for version, total in rows if total}

    def first_day(self, package: str | None) -> dt.date | None:
        row = self._db.execute(
            FIRST_DAY,
            {"package": ALL_PACKAGES if package is None else package},
        ).fetchone()
        return None if row is None or row[0] is None else dt.date.fromisoformat(row[0])

    def packages_starting(self, prefix: str, limit: int) -> list[str]:
        # a range on the primary key (SQLite compares text by code point); not LIKE,
        # which folds case and treats _ and % as wildcards
        rows = self._db.execute(
            "SELECT package FROM packages WHERE package >= ? AND package < ? ORDER BY package LIMIT ?",
            (prefix, prefix + "\U0010ffff", limit),
        ).fetchall()
        return [row[0] for row in rows]

    def file_record(self, name: str) -> FileRecord | None:
        row = self._db.execute(
            "SELECT size, mtime_ns, lines, downloads, rejected FROM counted_files WHERE file = ?", (name,)
        ).fetchone()
        return None if row is None else FileRecord(*row)

    def objects(self) -> set[str]:
        rows = self._db.execute(
            "SELECT object FROM backfill_objects AS o WHERE EXISTS (SELECT 1 FROM backfill WHERE object = o.id)"
        )
        return {row[0] for row in rows}

    def object_records(self) -> dict[str, ObjectRecord]:
        rows = self._db.execute(
            "SELECT object, etag, size, selection, lines, downloads, rejected FROM backfill_objects "
            "WHERE etag IS NOT NULL"
        ).fetchall()
        return {row[0]: ObjectRecord(*row[1:]) for row in rows}


def _json_text(values: Sequence[str]) -> str:
    """A JSON array for ``json_each``, as text (as every JSON this module gives SQLite):
    SQLite 3.45 and later may take a BLOB given to a JSON function for binary JSONB."""
    return orjson.dumps(list(values)).decode()


def _statements(script: str) -> list[str]:
    """A script's statements, to run one by one inside a transaction (``executescript``
    would commit first)."""
    return [statement for statement in script.split(";\n") if statement.strip()]
