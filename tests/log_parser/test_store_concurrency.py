"""Several writers of one store at once, as real processes: two ``numbat-logs live`` jobs
on two log streams and a backfill writing the same days give exactly what one process
reading everything gives; a writer killed with SIGKILL leaves whole batches only. In
both stores (SQLite lets one writer in at a time; PostgreSQL lets them all in)."""

from __future__ import annotations

import datetime as dt
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from log_parser.store import BackfilledObject, ObjectRecord, StoreError, object_rows, open_store

from ..waiting import wait_for
from .backfill_data import (
    FIRST_DAY,
    all_lines,
    generate,
    log_line,
    reference_count,
    store_counts,
    write_folder,
)


def live_total(location: str) -> int:
    """Downloads the live jobs have written, backfilled days included."""
    try:
        store = open_store(location, read_only=True)
    except StoreError:
        return 0
    try:
        (total,) = store._db.execute("SELECT COALESCE(SUM(count), 0) FROM live").fetchone()  # type: ignore[attr-defined]
        return int(total)
    finally:
        store.close()


def stream_lines(seed: int, count: int) -> list[str]:
    """A CDN log stream over the backfilled days and the two days after them (which no
    object vouches for): the same packages and versions as the objects, so the two live
    jobs and the backfill write the same rows."""
    rng = random.Random(seed)
    start = dt.datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day)
    return [log_line(rng, start + dt.timedelta(seconds=rng.randrange(5 * 86400))) for _ in range(count)]


@pytest.mark.slow
def test_two_live_jobs_and_a_backfill_at_once_give_the_totals_of_one_reader(tmp_path, store_location: str) -> None:
    objects = generate(24, 1500, days=3, seed=7)
    write_folder(tmp_path / "logs", objects)
    streams = {tmp_path / "a.log": stream_lines(1, 30_000), tmp_path / "b.log": stream_lines(2, 30_000)}
    for path in streams:
        path.write_text("")
    command = [sys.executable, "-m", "log_parser"]
    live_options = ["--format", "combined", "--db", store_location, "--flush-interval", "0.05", "--from-start"]
    lives = [
        subprocess.Popen(
            [*command, "live", "--file", str(path), *live_options], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for path in streams
    ]

    def append_in_chunks() -> None:
        """The streams grow while the backfill runs: many live flushes meet its commits."""
        for start in range(0, 30_000, 1000):
            for path, lines in streams.items():
                with open(path, "a") as out:
                    out.write("".join(line + "\n" for line in lines[start : start + 1000]))
            time.sleep(0.03)

    writer = threading.Thread(target=append_in_chunks)
    try:
        writer.start()
        backfill = subprocess.run(
            [*command, "backfill", str(tmp_path / "logs"), "--db", store_location, "--workers", "2"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        writer.join()
        assert backfill.returncode == 0, backfill.stderr
        expected_live = sum(reference_count(line for lines in streams.values() for line in lines).values())
        assert wait_for(lambda: live_total(store_location) == expected_live, 60), (
            live_total(store_location),
            expected_live,
        )
    finally:
        writer.join()
        for live in lives:
            live.send_signal(signal.SIGTERM)
        for live in lives:
            assert live.wait(20) == 0, live.stderr.read()  # type: ignore[union-attr]

    # one process reading everything: the streams' lines as one live flush, then the backfill
    reference = str(tmp_path / "reference.sqlite")
    store = open_store(reference)
    every_line = [line for lines in streams.values() for line in lines]
    store.add_live(reference_count(every_line))
    store.close()
    alone = subprocess.run(
        [*command, "backfill", str(tmp_path / "logs"), "--db", reference, "--workers", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert alone.returncode == 0, alone.stderr
    together = store_counts(store_location)  # and its daily totals checked against its rows
    assert together == store_counts(reference)
    # the backfilled days are the objects' counts alone, the others the streams'
    objects_count = reference_count(all_lines(objects))
    backfilled_days = {day for _, _, day in objects_count}
    assert Counter({k: n for k, n in together.items() if k[2] in backfilled_days}) == Counter(
        {k: n for k, n in objects_count.items() if k[2] in backfilled_days}
    )


#: A writer that adds the same batch of live counts again and again, each in one
#: transaction: ``BATCH`` rows of one download each, over several days and packages.
WRITER = """
import sys, datetime as dt
from log_parser.store import open_store
store = open_store(sys.argv[1])
day = dt.date(2026, 11, 18)
batch = {(f"pkg-{i % 997}", f"1.0.{i // 997}", day + dt.timedelta(days=i % 5)): 1 for i in range(int(sys.argv[2]))}
print("ready", flush=True)
while True:
    store.add_live(batch)
"""
BATCH = 20_000


@pytest.mark.slow
def test_a_writer_killed_mid_write_leaves_whole_batches(tmp_path, store_location: str) -> None:
    open_store(store_location).close()
    rng = random.Random(11)
    first, last = dt.date(2026, 11, 18), dt.date(2026, 11, 22)
    before = 0
    for _ in range(5):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, store_location, str(BATCH)], stdout=subprocess.PIPE, text=True
        )
        assert writer.stdout is not None
        assert writer.stdout.readline() == "ready\n"
        # a batch of this writer's committed first (on a loaded machine the first can take
        # longer than the sleep), then somewhere inside a later batch, most likely
        assert wait_for(lambda: live_total(store_location) > before, 60)  # noqa: B023 - called here
        time.sleep(0.3 + rng.random() * 0.7)
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
        total = before = live_total(store_location)
        assert total % BATCH == 0, f"{total} is not a whole number of batches of {BATCH}"
        # and the daily totals hold exactly the whole batches too
        store = open_store(store_location, read_only=True)
        try:
            assert sum(store.daily(None, first, last).values()) == total
        finally:
            store.close()


def test_two_backfills_of_the_same_objects_in_two_orders_both_finish_once(postgresql) -> None:
    """Each writes object x then y, the other y then x, in one transaction: PostgreSQL
    finds the deadlock and aborts one, which the store writes again once the other has
    committed; both finish, and each object is in the store once."""
    location = postgresql.create_database()
    day = dt.date(2026, 11, 18)
    x = BackfilledObject("x.gz", object_rows({("lodash", "1.0.0", day): 3}), ObjectRecord("ex", 1))
    y = BackfilledObject("y.gz", object_rows({("lodash", "1.0.0", day): 4}), ObjectRecord("ey", 1))
    both_started = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []

    def backfill(objects: list[BackfilledObject]) -> None:
        store = open_store(location, bulk_writer=True)
        try:
            store.add_object(objects[0])
            both_started.wait()
            store.add_object(objects[1])  # waits for the other's lock: a deadlock
            store.commit()
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    writers = [threading.Thread(target=backfill, args=(order,)) for order in ([x, y], [y, x])]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
    assert errors == []
    assert not any(writer.is_alive() for writer in writers)
    assert store_counts(location) == Counter({("lodash", "1.0.0", day): 7})  # once each, daily totals too
