"""The downloads store's semantics, which every backend keeps exactly: daily counts per
package and version.

Three kinds of rows: ``live`` counts, added to as the live job flushes; ``file`` counts,
one set per log file ``numbat-logs count`` read; and ``backfill`` counts, one set per log
object a backfill processed. Live and file counts are provisional, and add up: a day no
backfill has covered is answered from both. A day that a backfill has covered is answered
from the backfill rows only, so backfilled counts replace the provisional ones instead of
adding to them. Recounting a file replaces that file's rows and reprocessing an object
replaces that object's, so counting a file twice, or running a backfill twice, changes
nothing, and an object that arrives late adds only its own rows.

Beside the rows, two daily totals tables, ``provisional_daily`` (live and file rows) and
``backfill_daily`` (backfill rows), one row per (package, day) plus the day's total of
all packages (:data:`ALL_PACKAGES`), kept in the transaction that changes the rows: a
range of a package reads a row a day, never its versions (bench/store.py). A backfill
writes a day's rows at once, so its tables are keyed by day first (their writes land in
one place) and kept a row per package and day (its versions' counts in the row): the
live job adds to a day's rows a minute at a time, and its tables stay a row per version,
keyed by package.

Strategy: :class:`Store` is the interface and the shared logic (a batch of objects
written whole or not at all); ``_sqlite.py`` and ``_postgresql.py`` hold the SQL.
``Store(location)`` opens the backend the location names (``_open.py``): a
``postgresql://`` URL, or a SQLite file's path.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import ClassVar

from ._model import ALL_PACKAGES, BackfilledObject, DayCounts, FileRecord, ObjectRecord, object_rows

#: The schema this program writes. 1: the tables of rows and records (SQLite stores
#: made before versions were recorded are at 1); 2: the daily totals tables; 3:
#: PostgreSQL's backfill rows indexed by day first (nothing in SQLite); 4: the backfill's
#: rows one per package and day, with their versions' counts, and both backfill tables
#: keyed by day first.
SCHEMA_VERSION = 4

#: Every answer's rows, a version a row, in both backends' schema 4 (its own SQL, the
#: semantics above: a day is answered from the backfill's rows once backfilled, else from
#: the live and file rows); ``backfill_rows`` is each backend's view of the backfill's.
COUNTS_VIEW = """CREATE VIEW counts AS
    SELECT day, package, version, count FROM live WHERE day NOT IN (SELECT day FROM backfilled_days)
    UNION ALL
    SELECT day, package, version, count FROM file_counts WHERE day NOT IN (SELECT day FROM backfilled_days)
    UNION ALL
    SELECT day, package, version, count FROM backfill_rows WHERE day IN (SELECT day FROM backfilled_days);
"""

POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")


class StoreError(Exception):
    """A store that cannot be opened or used (its message names it, without password)."""


class SchemaError(StoreError):
    """A store whose schema this program cannot use: newer than it knows, or older and
    opened read-only (a writer upgrades it)."""


def is_postgresql(location: str) -> bool:
    return location.startswith(POSTGRESQL_SCHEMES)


def describe(location: str) -> str:
    """The location as it may be printed: a URL's password replaced by ``***``."""
    return re.sub(r"^([a-z]+://[^/@:]*):[^/@]*@", r"\1:***@", location)


def check_version(found: int, location: str, *, read_only: bool) -> None:
    """Refuse a schema newer than this program's, and an older one opened read-only."""
    if found > SCHEMA_VERSION:
        raise SchemaError(
            f"{describe(location)}: the store's schema is version {found}, newer than this numbat-logs knows "
            f"({SCHEMA_VERSION}): upgrade numbat, or use another store"
        )
    if read_only and found < SCHEMA_VERSION:
        raise SchemaError(
            f"{describe(location)}: the store's schema is version {found}, older than this numbat-logs's "
            f"({SCHEMA_VERSION}): open it once for writing (any command but serve's readers does) to upgrade it"
        )


class Store:
    """The downloads store. ``Store(location, read_only=..., bulk_writer=...)`` opens the
    backend the location names, as :func:`open_store` does.

    ``read_only``: a reader (the API), which never creates or upgrades the schema.
    ``bulk_writer``: a writer of many rows at once (the backfill); each backend says
    what it changes for one."""

    #: The backend's database error, the base of every one it raises.
    Error: ClassVar[type[Exception]]

    def __new__(cls, location: str | object, *, read_only: bool = False, bulk_writer: bool = False) -> Store:
        backend = Store.backend_for(str(location)) if cls is Store else cls
        return super().__new__(backend)

    @staticmethod
    def backend_for(location: str) -> type[Store]:
        """The class of the store at ``location``: set by ``_open.py``, which knows the
        backends (they import this module)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- writing -------------------------------------------------------------------------

    def add_live(self, counts: DayCounts) -> None:
        """Add provisional counts (the live parser's flushes), in one transaction."""
        raise NotImplementedError

    def replace_file(self, name: str, counts: DayCounts, record: FileRecord) -> None:
        """The provisional counts of one log file, replacing any earlier count's of it,
        with its record, in one transaction: killed at any point, the store holds the
        file's earlier rows and record or its new ones, never a part or a mix."""
        raise NotImplementedError

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
        raise NotImplementedError

    def commit(self) -> None:
        """Commit the objects written since the last commit, all of them or none."""
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    # -- reading -------------------------------------------------------------------------

    def known(self, package: str) -> bool:
        """Whether any row ever named the package (the API's 404 is for the others)."""
        return bool(self.known_among([package]))

    def known_among(self, packages: Sequence[str]) -> set[str]:
        """The packages any row ever named, of ``packages``: a bulk lookup's, at once."""
        raise NotImplementedError

    def daily(self, package: str | None, start: dt.date, end: dt.date) -> dict[dt.date, int]:
        """Downloads per day, ``start`` and ``end`` included, of one package or of all
        (None); days without downloads may be left out."""
        name = ALL_PACKAGES if package is None else package
        return self.daily_of([name], start, end).get(name, {})

    def daily_of(self, packages: Sequence[str], start: dt.date, end: dt.date) -> dict[str, dict[dt.date, int]]:
        """:meth:`daily` of each package (:data:`ALL_PACKAGES` for all), by name, in one
        query: a bulk lookup of 128 packages was two queries a package (bench/store.py). A package
        without downloads in the days may be left out."""
        raise NotImplementedError

    def by_version(self, package: str, start: dt.date, end: dt.date) -> dict[str, int]:
        """Downloads of each version of the package over the days, both included."""
        raise NotImplementedError

    def first_day(self, package: str | None) -> dt.date | None:
        """The first day with downloads, of one package or of any (None): where
        ``all-time`` starts, and how far back a range past npm's 18 months may reach."""
        raise NotImplementedError

    def top_versions(self, package: str, start: dt.date, end: dt.date, limit: int) -> list[tuple[str, int]]:
        """The ``limit`` versions with the most downloads over the days, most first, ties
        by version in code point order (sorted here, so both backends agree whatever
        their collation): the page's split by version."""
        ranked = sorted(self.by_version(package, start, end).items(), key=lambda item: (-item[1], item[0]))
        return ranked[:limit]

    def packages_starting(self, prefix: str, limit: int) -> list[str]:
        """Up to ``limit`` known package names that start with ``prefix``, in code point
        order: the page's search."""
        raise NotImplementedError

    def file_record(self, name: str) -> FileRecord | None:
        """The record of the file counted under ``name`` (its ``file://`` URI), if any."""
        raise NotImplementedError

    def objects(self) -> set[str]:
        """The objects that have counts, by name."""
        raise NotImplementedError

    def object_records(self) -> dict[str, ObjectRecord]:
        """The objects a backfill finished, by name."""
        raise NotImplementedError
