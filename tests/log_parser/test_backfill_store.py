"""The store's side of the backfill: whole objects per transaction, and their records, in
both stores (``store_location``: SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import signal
from collections.abc import Iterator

import orjson
import pytest

from log_parser.backfill import Backfill, Credentials, ObjectResult, Task, interrupt, parse_source
from log_parser.store import BackfilledObject, ObjectRecord, ObjectRows, object_rows, open_store

DAY = dt.date(2026, 11, 20)


def rows_with_a_null_package() -> ObjectRows:
    """An object's rows that the store refuses at the second row (``ObjectRows.of``
    refuses to make them: what a bug in a worker could send)."""
    day = DAY.isoformat()
    rows = [[day, "left-pad", 4, {"1.3.0": 4}], [day, None, 1, {"7.0.0": 1}]]
    return ObjectRows(orjson.dumps(rows), frozenset([day]), frozenset(["left-pad"]))


def test_objects_are_written_whole_or_not_at_all(store_location: str) -> None:
    store = open_store(store_location, bulk_writer=True)
    good = BackfilledObject(
        "a.gz", object_rows({("lodash", "4.17.21", DAY): 3}), ObjectRecord("e1", 10, lines=5, downloads=3)
    )
    bad = BackfilledObject("b.gz", rows_with_a_null_package(), ObjectRecord("e2", 10))

    with pytest.raises(store.Error, match=r"(?i)not.null|missing data"):
        store.replace_objects([good, bad])
    assert store.object_records() == {}
    assert store.daily(None, DAY, DAY) == {}
    assert not store.known("lodash")  # nothing of the failed transaction, not even in the store's memory

    store.replace_objects([good])
    assert store.object_records() == {"a.gz": ObjectRecord("e1", 10, lines=5, downloads=3)}
    assert store.objects() == {"a.gz"}
    # rows name their object by a short id, not by its (long) name
    ids = store._db.execute(  # type: ignore[attr-defined]
        "SELECT DISTINCT CAST(b.object AS TEXT), CAST(o.id AS TEXT) FROM backfill AS b, backfill_objects AS o "
        "WHERE o.object = 'a.gz'"
    ).fetchall()
    assert len(ids) == 1
    assert ids[0][0] == ids[0][1]
    assert store.daily("lodash", DAY, DAY) == {DAY: 3}
    assert store.known("lodash")

    store.replace_object("a.gz", {("lodash", "4.17.21", DAY): 2}, ObjectRecord("e9", 11))  # the object changed
    assert store.daily("lodash", DAY, DAY) == {DAY: 2}
    assert store.object_records()["a.gz"].etag == "e9"
    store.close()


def test_object_rows_are_a_row_per_day_and_package_in_the_tables_order() -> None:
    counts = {
        ("b", "1.0.0", DAY): 1,
        ("a", "2.0.0", DAY): 2,
        ("a", "1.0.0", DAY - dt.timedelta(days=1)): 3,
        ("a", "2.1.0", DAY): 4,
    }
    assert orjson.loads(object_rows(counts).json) == [
        ["2026-11-19", "a", 3, {"1.0.0": 3}],
        ["2026-11-20", "a", 6, {"2.0.0": 2, "2.1.0": 4}],
        ["2026-11-20", "b", 1, {"1.0.0": 1}],
    ]
    assert object_rows(counts).tuples() == [
        ("a", "2026-11-19", "1.0.0", 3),
        ("a", "2026-11-20", "2.0.0", 2),
        ("a", "2026-11-20", "2.1.0", 4),
        ("b", "2026-11-20", "1.0.0", 1),
    ]


def test_an_object_vouches_for_its_own_day_only(store_location: str) -> None:
    """An hourly log of one day holds a few lines of the next: they wait, counted, until
    the next day is backfilled, and never hide its live counts meanwhile."""
    store = open_store(store_location, bulk_writer=True)
    next_day = DAY + dt.timedelta(days=1)
    store.add_live({("lodash", "4.17.21", DAY): 1000, ("lodash", "4.17.21", next_day): 50})
    last_hour = object_rows({("lodash", "4.17.21", DAY): 10, ("lodash", "4.17.21", next_day): 2})
    store.replace_objects([BackfilledObject("E.2026-11-20-23.gz", last_hour, days=(DAY.isoformat(),))])
    assert store.daily("lodash", DAY, next_day) == {DAY: 10, next_day: 50}

    first_hour = object_rows({("lodash", "4.17.21", next_day): 30})
    store.replace_objects([BackfilledObject("E.2026-11-21-00.gz", first_hour, days=(next_day.isoformat(),))])
    assert store.daily("lodash", DAY, next_day) == {DAY: 10, next_day: 32}
    store.close()


def test_an_object_written_twice_in_one_transaction_keeps_its_second_rows(store_location: str) -> None:
    """The second writing of an object replaces the first's rows, also when the first is
    not yet committed (PostgreSQL looks for an object's old rows only when its record
    was there before the statement: here, inserted by the same transaction)."""
    store = open_store(store_location, bulk_writer=True)
    store.add_object(
        BackfilledObject("a.gz", object_rows({("lodash", "4.17.21", DAY): 3, ("react", "18.0.0", DAY): 1}))
    )
    store.add_object(BackfilledObject("a.gz", object_rows({("lodash", "4.17.21", DAY): 5})))
    store.commit()
    assert store.daily("lodash", DAY, DAY) == {DAY: 5}
    assert store.daily("react", DAY, DAY) == {}
    assert store.daily(None, DAY, DAY) == {DAY: 5}
    assert store.by_version("lodash", DAY, DAY) == {"4.17.21": 5}
    # and a new object beside it adds its own rows only
    store.replace_objects([BackfilledObject("b.gz", object_rows({("lodash", "4.17.21", DAY): 2}))])
    assert store.daily(None, DAY, DAY) == {DAY: 7}
    store.close()


def test_an_object_that_fails_midway_leaves_nothing_and_spares_the_others_of_its_transaction(
    store_location: str,
) -> None:
    """The backfill writes each object as it arrives and commits several together: one
    that fails while being written (here a bad row after good ones) is rolled back alone."""
    store = open_store(store_location, bulk_writer=True)
    first = BackfilledObject("a.gz", object_rows({("lodash", "4.17.21", DAY): 3}), ObjectRecord("e1", 10))
    broken = BackfilledObject(
        "b.gz",
        rows_with_a_null_package(),
        ObjectRecord("e2", 10),
    )
    store.add_object(first)
    with pytest.raises(store.Error, match=r"(?i)not.null|missing data"):
        store.add_object(broken)
    store.commit()
    assert set(store.object_records()) == {"a.gz"}
    assert store.daily(None, DAY, DAY) == {DAY: 3}
    assert (store.known("lodash"), store.known("left-pad")) == (True, False)
    # and the package of the rolled-back object is written when another object has it
    store.add_object(BackfilledObject("c.gz", object_rows({("left-pad", "1.3.0", DAY): 1}), ObjectRecord("e3", 10)))
    store.commit()
    assert store.known("left-pad")
    store.close()


class _InterruptedWhileCounted(dict[str, int]):
    """A result's rejected reasons whose first reading delivers SIGTERM, as if it came
    while the run counted a committed batch into its summary."""

    delivered = False

    def items(self):  # type: ignore[override]
        if not self.delivered:
            self.delivered = True
            interrupt(signal.SIGTERM, None)
        return super().items()


def test_an_interrupt_while_a_commit_is_counted_counts_it_once(tmp_path, store_location: str) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    for number in range(6):
        (folder / f"{number}.log").write_text("x\n")
    source = parse_source(str(folder), Credentials())

    class Results:
        description = "fake"

        def run(self, tasks: list[Task]) -> Iterator[ObjectResult]:
            for number, task in enumerate(tasks):
                rejected = _InterruptedWhileCounted(bad=1) if number == 2 else {"bad": 1}
                name = task.source.object_key(task.object.name)
                yield ObjectResult(name, ObjectRecord(task.object.etag, task.object.size, lines=1), rejected=rejected)

        def close(self) -> None:
            pass

    store = open_store(store_location, bulk_writer=True)
    summary = Backfill(source, store, Results()).run()
    assert summary.interrupted
    assert summary.processed == len(store.object_records()) == summary.rejected["bad"]
    store.close()
