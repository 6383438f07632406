"""The store's schema, created and upgraded by the program in both backends: a version
table, an older schema upgraded in place with what it holds, a newer one refused."""

from __future__ import annotations

import datetime as dt
import sqlite3

import orjson
import psycopg
import pytest

from log_parser.store import SCHEMA_VERSION, SchemaError, StoreError, open_store
from log_parser.store._postgresql import MIGRATIONS as POSTGRESQL_MIGRATIONS
from log_parser.store._sqlite import MIGRATIONS as SQLITE_MIGRATIONS

MAY1, MAY2 = dt.date(2024, 5, 1), dt.date(2024, 5, 2)


def schema_version(location: str) -> int:
    if location.startswith("postgresql://"):
        with psycopg.connect(location) as db:
            return int(db.execute("SELECT version FROM schema_version").fetchone()[0])  # type: ignore[index]
    with sqlite3.connect(location) as db:
        return int(db.execute("SELECT version FROM schema_version").fetchone()[0])


def set_schema_version(location: str, version: int) -> None:
    if location.startswith("postgresql://"):
        with psycopg.connect(location) as db:
            db.execute("UPDATE schema_version SET version = %s", (version,))
        return
    with sqlite3.connect(location) as db:
        db.execute("UPDATE schema_version SET version = ?", (version,))


def test_a_new_store_has_the_programs_schema_version(store_location: str) -> None:
    open_store(store_location).close()
    assert schema_version(store_location) == SCHEMA_VERSION
    open_store(store_location).close()  # opened again: nothing to do
    assert schema_version(store_location) == SCHEMA_VERSION


def test_a_newer_schema_is_refused_with_a_clear_error(store_location: str) -> None:
    store = open_store(store_location)
    store.add_live({("lodash", "1.0.0", MAY1): 5})
    store.close()
    set_schema_version(store_location, SCHEMA_VERSION + 1)
    for read_only in (False, True):
        with pytest.raises(SchemaError, match=f"version {SCHEMA_VERSION + 1}, newer than this numbat-logs knows"):
            open_store(store_location, read_only=read_only)
    assert schema_version(store_location) == SCHEMA_VERSION + 1  # and left as it was


def test_a_postgresql_store_of_version_1_is_upgraded_in_place(postgresql) -> None:
    location = postgresql.create_database()
    with psycopg.connect(location) as db:  # a store as version 1 made it, with rows of every kind
        db.execute(POSTGRESQL_MIGRATIONS[0].encode())
        db.execute("INSERT INTO live VALUES ('2024-05-01', 'lodash', '1.0.0', 5), ('2024-05-02', 'lodash', '1.0.0', 1)")
        db.execute("INSERT INTO counted_files (id, file, size, mtime_ns, lines, downloads, rejected, finished) "
                   "VALUES (1, 'file:///a.log', 1, 1, 1, 1, 0, 'x')")  # fmt: skip
        db.execute("INSERT INTO file_counts VALUES (1, '2024-05-02', 'lodash', '2.0.0', 2)")
        db.execute("INSERT INTO backfill_objects (id, object, etag, size) VALUES (1, 'cdn/2024-05-01.gz', 'e', 10)")
        db.execute("INSERT INTO backfill VALUES (1, '2024-05-01', 'lodash', '1.0.0', 4)")
        db.execute("INSERT INTO backfilled_days VALUES ('2024-05-01')")
        db.execute("INSERT INTO packages VALUES ('lodash')")
    assert schema_version(location) == 1
    with pytest.raises(SchemaError, match="older than this numbat-logs"):  # a reader does not upgrade
        open_store(location, read_only=True)

    store = open_store(location)
    assert schema_version(location) == SCHEMA_VERSION
    assert store.daily("lodash", MAY1, MAY2) == {MAY1: 4, MAY2: 3}  # from the daily totals the upgrade made
    assert store.daily(None, MAY1, MAY2) == {MAY1: 4, MAY2: 3}
    store.add_live({("lodash", "1.0.0", MAY2): 10})
    store.replace_object(
        "cdn/2024-05-01.gz", {("lodash", "1.0.0", MAY1): 7}
    )  # replaces the old rows, in the totals too
    assert store.daily("lodash", MAY1, MAY2) == {MAY1: 7, MAY2: 13}
    store.close()


def test_a_store_that_cannot_be_reached_is_a_store_error(tmp_path, postgresql) -> None:
    with pytest.raises(StoreError, match="no_such_database"):
        open_store(postgresql.url("no_such_database"))
    with pytest.raises(StoreError, match="unable to open"):
        open_store(str(tmp_path / "missing" / "d.sqlite"))


def test_a_password_is_never_in_the_error(postgresql) -> None:
    url = f"postgresql://numbat:s3cret@127.0.0.1:{postgresql.port}/no_such_database"
    with pytest.raises(StoreError) as error:
        open_store(url)
    assert "s3cret" not in str(error.value)
    assert "numbat:***@127.0.0.1" in str(error.value)


def test_the_store_is_named_by_db_or_by_the_environment(monkeypatch) -> None:
    from log_parser.cli import build_parser  # noqa: PLC0415 - it reads the environment as it builds

    monkeypatch.delenv("NUMBAT_LOGS_DB", raising=False)
    assert build_parser().parse_args(["serve"]).db == "downloads.sqlite"
    monkeypatch.setenv("NUMBAT_LOGS_DB", "postgresql://numbat@db.example/downloads")
    for command in (["serve"], ["count", "a.log"], ["live", "--stdin"], ["backfill", "/logs"]):
        assert build_parser().parse_args(command).db == "postgresql://numbat@db.example/downloads"
    assert build_parser().parse_args(["serve", "--db", "other.sqlite"]).db == "other.sqlite"


def make_version_2_store(location: str) -> None:
    """A store as version 2 made it, in either backend, with two objects' backfilled rows,
    one of them over two days and with two versions on one."""
    postgresql = location.startswith("postgresql://")
    migrations = POSTGRESQL_MIGRATIONS if postgresql else SQLITE_MIGRATIONS
    rows = (
        "INSERT INTO backfill VALUES (1, '2024-05-01', 'lodash', '1.0.0', 4), (1, '2024-05-01', 'lodash', '2.0.0', 1), "
        "(1, '2024-05-02', 'lodash', '2.0.0', 6), (2, '2024-05-02', 'react', '18.0.0', 2)"
    )
    with psycopg.connect(location) if postgresql else sqlite3.connect(location) as db:
        if postgresql:
            db.execute(migrations[0].encode())
        else:
            db.executescript(migrations[0])  # type: ignore[union-attr]
        db.execute("INSERT INTO backfill_objects (id, object) VALUES (1, 'cdn/2024-05-01.gz'), (2, 'cdn/b.gz')")
        db.execute(rows)
        db.execute("INSERT INTO backfilled_days VALUES ('2024-05-01'), ('2024-05-02')")
        db.execute("INSERT INTO packages VALUES ('lodash'), ('react')")
        if postgresql:
            db.execute(migrations[1].encode())
        else:
            db.executescript(migrations[1])  # type: ignore[union-attr]
        db.execute("UPDATE schema_version SET version = 2")


def test_a_store_of_version_2_has_its_backfill_rows_grouped_and_keyed_by_day_in_place(store_location: str) -> None:
    make_version_2_store(store_location)
    store = open_store(store_location)
    assert schema_version(store_location) == SCHEMA_VERSION == 4
    db = store._db  # type: ignore[attr-defined]
    if store_location.startswith("postgresql://"):
        keys = dict(
            db.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('backfill', 'backfill_daily')"
            ).fetchall()
        )
        assert keys["backfill_by_day"].endswith("(day, package)")
        assert keys["backfill_daily_pkey"].endswith("(day, package)")
    else:
        for table in ("backfill", "backfill_daily"):
            key = [
                row[1]
                for row in sorted(db.execute(f"PRAGMA table_info({table})").fetchall(), key=lambda r: r[5])
                if row[5]
            ]
            assert key[:2] == ["day", "package"]
    rows = db.execute("SELECT object, CAST(day AS TEXT), package, total, versions FROM backfill").fetchall()
    assert sorted((o, d, p, t, orjson.loads(v)) for o, d, p, t, v in rows) == [
        (1, "2024-05-01", "lodash", 5, {"1.0.0": 4, "2.0.0": 1}),
        (1, "2024-05-02", "lodash", 6, {"2.0.0": 6}),
        (2, "2024-05-02", "react", 2, {"18.0.0": 2}),
    ]
    assert store.daily("lodash", MAY1, MAY2) == {MAY1: 5, MAY2: 6}
    assert store.daily(None, MAY1, MAY2) == {MAY1: 5, MAY2: 8}
    assert store.by_version("lodash", MAY1, MAY2) == {"1.0.0": 4, "2.0.0": 7}
    assert store.first_day("react") == MAY2
    assert store.first_day(None) == MAY1
    store.replace_object("cdn/2024-05-01.gz", {("lodash", "1.0.0", MAY1): 7})  # its old rows off the totals
    assert store.daily("lodash", MAY1, MAY2) == {MAY1: 7}
    assert store.daily(None, MAY1, MAY2) == {MAY1: 7, MAY2: 2}
    assert store.objects() == {"cdn/2024-05-01.gz", "cdn/b.gz"}
    store.close()
