"""Property: any sequence of live flushes, counted files and backfilled objects gives the
same answers from SQLite and from PostgreSQL, and each store's daily totals are the sums
of its rows."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from log_parser.store import ALL_PACKAGES, BackfilledObject, FileRecord, ObjectRecord, Store, object_rows, open_store

from .backfill_data import check_daily_totals

DAYS = [dt.date(2026, 11, 18) + dt.timedelta(days=n) for n in range(4)]
PACKAGES = ["lodash", "@types/node", "left-pad"]
VERSIONS = ["1.0.0", "2.0.0-beta.1"]

counts = st.dictionaries(
    st.tuples(st.sampled_from(PACKAGES), st.sampled_from(VERSIONS), st.sampled_from(DAYS)),
    st.integers(0, 1_000_000),
    max_size=8,
)
live = st.tuples(st.just("live"), counts)
counted_file = st.tuples(st.just("file"), st.sampled_from(["file:///a.log", "file:///b.log"]), counts)
backfilled = st.builds(
    lambda name, object_counts, days, etag: BackfilledObject(
        name, object_rows(object_counts), ObjectRecord(etag, 100), days
    ),
    st.sampled_from(["cdn/a.gz", "cdn/b.gz", "cdn/c.gz"]),
    counts,
    st.none() | st.lists(st.sampled_from([day.isoformat() for day in DAYS]), max_size=2, unique=True).map(tuple),
    st.sampled_from(["e1", "e2"]),
)
objects = st.tuples(st.just("objects"), st.lists(backfilled, min_size=1, max_size=3))
operations = st.lists(st.one_of(live, counted_file, objects), max_size=8)


def apply(store: Store, steps: list[tuple]) -> None:
    for step in steps:
        if step[0] == "live":
            store.add_live(step[1])
        elif step[0] == "file":
            store.replace_file(step[1], step[2], FileRecord(len(step[2]), 1))
        else:
            store.replace_objects(step[1])


def answers(store: Store) -> dict[str, object]:
    first, last = DAYS[0], DAYS[-1]
    found: dict[str, object] = {
        "objects": store.objects(),
        "records": store.object_records(),
        "files": {name: store.file_record(name) for name in ("file:///a.log", "file:///b.log")},
        "all": store.daily(None, first, last),
    }
    for package in PACKAGES:
        found[package] = (
            store.known(package),
            store.daily(package, first, last),
            store.daily(package, DAYS[1], DAYS[2]),
            store.by_version(package, first, last),
            store.first_day(package),
            store.top_versions(package, first, last, 1),
        )
    found["first"] = store.first_day(None)
    # a bulk lookup's, at once: what one package at a time answers
    names = [*PACKAGES, ALL_PACKAGES, "never-seen"]
    assert store.known_among(names) == {name for name in names if name and store.known(name)}
    for start, end in ((first, last), (DAYS[1], DAYS[2])):
        assert store.daily_of(names, start, end) == {
            name: daily for name in names if (daily := store.daily(name or None, start, end))
        }
    found["starting"] = {prefix: store.packages_starting(prefix, 2) for prefix in ("", "l", "@", "le", "x")}
    rows = store._db.execute("SELECT package, version, day, SUM(count) FROM counts GROUP BY 1, 2, 3").fetchall()  # type: ignore[attr-defined]
    view = Counter(
        {(p, v, d if isinstance(d, dt.date) else dt.date.fromisoformat(d)): int(n) for p, v, d, n in rows if n}
    )
    check_daily_totals(store, view)
    for package in [None, *PACKAGES]:  # the first day with downloads, by the rows themselves
        days = [day for (p, _, day), n in view.items() if n and package in (None, p)]
        assert store.first_day(package) == (min(days) if days else None)
    found["view"] = view
    return found


#: Every table of a store, emptied between examples (quicker than a database each).
TABLES = (
    "live, backfill, file_counts, backfilled_days, packages, backfill_objects, counted_files, "
    "provisional_daily, backfill_daily"
)


@pytest.mark.slow
def test_sqlite_and_postgresql_answer_alike(postgresql) -> None:
    location = postgresql.create_database()
    open_store(location).close()

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(operations)
    def check(steps: list[tuple]) -> None:
        postgresql.execute(f"TRUNCATE {TABLES} RESTART IDENTITY", location)
        with tempfile.TemporaryDirectory() as folder:
            sqlite_store = open_store(str(Path(folder) / "d.sqlite"))
            postgresql_store = open_store(location)
            try:
                apply(sqlite_store, steps)
                apply(postgresql_store, steps)
                assert answers(sqlite_store) == answers(postgresql_store)
            finally:
                sqlite_store.close()
                postgresql_store.close()

    check()
