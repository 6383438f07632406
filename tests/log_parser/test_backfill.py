"""numbat-logs backfill from a local folder (libcloud's local driver), run as the command:
totals against a reference count, reruns, late objects, live counts replaced, a damaged
object, one read short, date ranges, and kill -9 then resume."""

from __future__ import annotations

import datetime as dt
import gc
import gzip
import json
import os
import pty
import signal
import subprocess
import sys
import tracemalloc
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from log_parser import Store
from log_parser import _reading as reading
from log_parser.backfill import Backfill, LocalPool, ObjectResult, Task, parse_source, process_object
from log_parser.backfill import _executors as executors_module
from log_parser.backfill._sources import list_objects
from log_parser.core import warm_for
from log_parser.store import StoreError, open_store

from ..waiting import wait_for
from .backfill_data import (
    FIRST_DAY,
    all_lines,
    as_cloudfront,
    generate,
    gzipped,
    object_lines,
    object_name,
    reference_count,
    store_counts,
    write_folder,
)


def backfill(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "log_parser", "backfill", *args], capture_output=True, text=True, timeout=timeout
    )


@contextmanager
def running_backfill(
    tmp_path: Path, objects: dict[str, list[str]], db: str | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The objects in a folder, and a backfill of it with two workers running beside the
    test into the store at ``db`` (a new SQLite file by default); killed at the end if the
    test left it running."""
    write_folder(tmp_path / "logs", objects)
    db = db or str(tmp_path / "d.sqlite")
    command = [sys.executable, "-m", "log_parser", "backfill", str(tmp_path / "logs"), "--db", db]
    process = subprocess.Popen([*command, "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process, db
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def summary_of(result: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(result.stdout)


#: Tables as rows that name objects by name (the store's rows name them by id).
DUMPS = {
    "backfill": "SELECT o.object, day, package, version, count FROM backfill_rows AS b "
    "JOIN backfill_objects AS o ON CAST(b.object AS TEXT) = CAST(o.id AS TEXT)",
    "backfill_objects": "SELECT object, etag, size, selection, lines, downloads, rejected, finished FROM backfill_objects",
    "backfill_daily": "SELECT package, day, count FROM backfill_daily WHERE count <> 0",
}


def dump(db: Path | str, *tables: str) -> dict[str, list[tuple]]:
    """The tables' rows, in either store."""
    store = open_store(str(db), read_only=True)
    try:
        connection = store._db  # type: ignore[attr-defined]
        return {
            table: sorted(tuple(row) for row in connection.execute(DUMPS.get(table, f"SELECT * FROM {table}")))
            for table in tables
        }
    finally:
        store.close()


def recorded(db: Path | str) -> int:
    """Objects the store holds as done, read as the API would, while a backfill writes."""
    try:
        store = open_store(str(db), read_only=True)
    except StoreError:  # not there yet, or its schema not yet
        return 0
    try:
        return len(store.object_records())
    finally:
        store.close()


def test_counts_equal_the_reference_with_one_and_two_workers(tmp_path) -> None:
    objects = generate(12, 1500)
    write_folder(tmp_path / "logs", objects)
    reference = reference_count(all_lines(objects))
    summary_file = tmp_path / "summary.json"
    two = backfill(str(tmp_path / "logs"), "--db", str(tmp_path / "two.sqlite"), "--summary", str(summary_file))
    assert two.returncode == 0, two.stderr
    assert two.stdout == ""  # the summary went to the file
    summary = json.loads(summary_file.read_text())
    assert (summary["listed"], summary["processed"], summary["failed"]) == (12, 12, [])
    assert summary["lines"] == 12 * 1500
    assert summary["downloads"] == sum(reference.values())
    assert summary["rejected"]["not a combined or common log line"] == sum(
        line.startswith("garbage") for line in all_lines(objects)
    )
    assert "backfill: 12 objects read" in two.stderr  # the one-line summary
    assert 0 < summary["worker_seconds"] < 2 * summary["seconds"]
    assert store_counts(tmp_path / "two.sqlite") == reference

    one = backfill(f"file://{tmp_path / 'logs'}", "--db", str(tmp_path / "one.sqlite"), "--workers", "1")
    assert one.returncode == 0, one.stderr
    assert summary_of(one)["executor"] == "1 worker (in process)"
    assert store_counts(tmp_path / "one.sqlite") == reference


def test_rerun_changes_nothing_and_a_late_object_adds_only_itself(tmp_path, store_location: str) -> None:
    objects = generate(9, 1000)
    write_folder(tmp_path / "logs", objects)
    db = store_location
    tables = ("backfill", "backfilled_days", "backfill_objects", "packages", "backfill_daily")
    assert backfill(str(tmp_path / "logs"), "--db", str(db)).returncode == 0
    before = dump(db, *tables)

    again = backfill(str(tmp_path / "logs"), "--db", str(db))
    assert again.returncode == 0, again.stderr
    assert (summary_of(again)["processed"], summary_of(again)["already_done"]) == (0, 9)
    assert dump(db, *tables) == before

    # CloudFront delivers up to a day late: an object for the first day's last hour
    late = object_name(FIRST_DAY, 23, 999)
    objects[late] = object_lines(999, FIRST_DAY, 23, 1000)
    write_folder(tmp_path / "logs", {late: objects[late]})
    with_late = backfill(str(tmp_path / "logs"), "--db", str(db))
    assert with_late.returncode == 0, with_late.stderr
    assert (summary_of(with_late)["processed"], summary_of(with_late)["already_done"]) == (1, 9)
    assert store_counts(db) == reference_count(all_lines(objects))
    after = dump(db, "backfill_objects")["backfill_objects"]
    assert [row for row in after if not row[0].endswith(late)] == before["backfill_objects"]  # the others untouched


def test_backfilled_days_replace_live_counts(tmp_path, store_location: str) -> None:
    objects = generate(6, 1000)
    write_folder(tmp_path / "logs", objects)
    db = store_location
    day_before = FIRST_DAY - dt.timedelta(days=1)
    store = open_store(db)
    store.add_live({("lodash", "4.17.21", FIRST_DAY): 100_000, ("lodash", "4.17.21", day_before): 7})
    store.close()
    assert backfill(str(tmp_path / "logs"), "--db", str(db)).returncode == 0
    reference = reference_count(all_lines(objects))
    store = open_store(db, read_only=True)
    try:
        backfilled = sum(n for (package, _, day), n in reference.items() if package == "lodash" and day == FIRST_DAY)
        assert store.daily("lodash", FIRST_DAY, FIRST_DAY) == {FIRST_DAY: backfilled}  # not 100,000 more
        assert store.daily("lodash", day_before, day_before) == {day_before: 7}  # a day no backfill covered
    finally:
        store.close()


def test_a_damaged_object_is_recorded_with_what_it_holds_and_named(tmp_path) -> None:
    """An object damaged in itself (all its listed bytes read) would give the same bytes
    again: its salvaged counts are recorded, it is named, and a rerun leaves it alone."""
    objects = generate(6, 1000)
    folder = tmp_path / "logs"
    write_folder(folder, objects)
    damaged = object_name(FIRST_DAY, 5, 500)
    lines = object_lines(500, FIRST_DAY, 5, 1000)
    kept = next(n for n in range(600, 1000) if "/-/" in lines[n])
    # cut short, as by a failed upload: its first lines and part of the next, compressed
    # and flushed so that all of them can be read
    deflate = zlib.compressobj(wbits=31)
    part = "".join(f"{line}\n" for line in lines[:kept]) + lines[kept][: lines[kept].index("/-/") + 3]
    (folder / damaged).write_bytes(deflate.compress(part.encode()) + deflate.flush(zlib.Z_SYNC_FLUSH))
    db = tmp_path / "d.sqlite"
    result = backfill(str(folder), "--db", str(db))
    assert result.returncode == 3, result.stderr  # nothing failed, something was damaged
    key = f"{folder.as_uri()}/{damaged}"  # the store's key: the name within its folder
    size = (folder / damaged).stat().st_size
    assert (
        f"numbat-logs: damaged: {key}: truncated gzip: the data ends mid-stream ({size} bytes read)\n" in result.stderr
    )
    assert "1 damaged" in result.stderr  # the one-line summary
    summary = summary_of(result)
    assert summary["failed"] == []
    assert summary["damaged"] == [
        {"object": key, "damage": f"truncated gzip: the data ends mid-stream ({size} bytes read)"}
    ]
    assert (summary["processed"], summary["lines"]) == (7, 6 * 1000 + kept + 1)
    assert store_counts(db) == reference_count(all_lines(objects) + lines[:kept])

    again = backfill(str(folder), "--db", str(db))
    assert again.returncode == 0, again.stderr
    assert (summary_of(again)["processed"], summary_of(again)["already_done"], summary_of(again)["damaged"]) == (
        0,
        7,
        [],
    )

    (folder / damaged).write_bytes(gzipped(lines))  # uploaded again, whole: the next run takes it up
    objects[damaged] = lines
    fixed = backfill(str(folder), "--db", str(db))
    assert fixed.returncode == 0, fixed.stderr
    assert (summary_of(fixed)["processed"], summary_of(fixed)["already_done"]) == (1, 6)
    assert store_counts(db) == reference_count(all_lines(objects))


def test_an_object_read_short_of_its_listed_size_fails_to_be_tried_again(tmp_path) -> None:
    """Fewer bytes than the listing gave is a read that failed (the connection closed
    early, the object replaced meanwhile), compressed or not: recording its counts would
    record a part as the whole."""
    lines = object_lines(7, FIRST_DAY, 3, 500)
    folder = tmp_path / "logs" / "cdn" / "2026" / "11" / "18"
    folder.mkdir(parents=True)
    (folder / "a.gz").write_bytes(gzipped(lines))
    (folder / "b.log").write_text("".join(f"{line}\n" for line in lines))
    source = parse_source(str(tmp_path / "logs"))
    listed = list(list_objects(source))
    assert len(listed) == 2
    for info in listed:
        path = tmp_path / "logs" / info.name
        path.write_bytes(path.read_bytes()[: info.size // 2])  # shorter now than when listed
        result = process_object(Task(source, info))
        assert result.error is not None
        assert result.error.startswith(f"ShortRead: read {info.size // 2:,} of the {info.size:,} bytes listed"), (
            result.error
        )
        assert result.bytes_read == info.size // 2


def test_date_range_by_object_names_and_by_contents(tmp_path) -> None:
    objects = generate(9, 800)  # three days
    folder = tmp_path / "logs"
    write_folder(folder, objects)
    # an object whose name has no date: its contents decide, line by line
    undated = [line for lines in objects.values() for line in lines[:50]]
    (folder / "misc").mkdir()
    (folder / "misc" / "access.log.gz").write_bytes(gzip.compress(("\n".join(undated) + "\n").encode()))
    middle = FIRST_DAY + dt.timedelta(days=1)
    db = tmp_path / "d.sqlite"
    result = backfill(str(folder), "--db", str(db), "--since", str(middle), "--until", str(middle))
    assert result.returncode == 0, result.stderr
    summary = summary_of(result)
    assert (summary["listed"], summary["processed"], summary["out_of_range"]) == (10, 4, 6)
    selected = [line for name, lines in objects.items() if f"/{middle:%Y/%m/%d}/" in name for line in lines]
    expected = reference_count(selected + undated)
    assert store_counts(db) == Counter({key: n for key, n in expected.items() if key[2] == middle})

    only_cdn = backfill(str(folder), "--db", str(tmp_path / "p.sqlite"), "--prefix", f"cdn/{FIRST_DAY:%Y/%m/%d}/")
    assert summary_of(only_cdn)["listed"] == 3


def test_bad_sources_exit_2(tmp_path) -> None:
    reversed_range = backfill(str(tmp_path), "--since", "2026-11-20", "--until", "2026-11-19")
    assert reversed_range.returncode == 2
    assert "is after --until" in reversed_range.stderr
    missing = backfill(str(tmp_path / "nowhere"), "--db", str(tmp_path / "d.sqlite"))
    assert missing.returncode == 2
    assert "nowhere" in missing.stderr
    no_keys = subprocess.run(
        [sys.executable, "-m", "log_parser", "backfill", "s3://bucket/logs/", "--db", str(tmp_path / "d.sqlite")],
        capture_output=True,
        text=True,
        timeout=60,
        env={key: value for key, value in os.environ.items() if "AWS" not in key and "NUMBAT" not in key},
    )
    assert no_keys.returncode == 2
    assert "key and a secret" in no_keys.stderr


def test_killed_with_sigkill_then_rerun_gives_exact_totals(tmp_path, store_location: str) -> None:
    # Objects are committed 32 at a time (or every half second): with three times as
    # many, the kill falls after the first commit and before the last. Eight days keep
    # every object's hour early enough that no line runs into a day no object names.
    count = 96
    objects = generate(count, 2500, days=8, seed=3)
    with running_backfill(tmp_path, objects, store_location) as (process, db):
        assert wait_for(lambda: recorded(db) >= 4, 60, interval=0.005)
        workers = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    done_at_kill = recorded(db)
    assert 4 <= done_at_kill < count, "the run finished before it was killed: make it longer"
    # the pool's workers follow their parent (PR_SET_PDEATHSIG), none is left behind
    assert workers
    assert wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), 10)

    rerun = backfill(str(tmp_path / "logs"), "--db", str(db), "--workers", "2")
    assert rerun.returncode == 0, rerun.stderr
    assert summary_of(rerun)["processed"] == count - done_at_kill
    assert store_counts(db) == reference_count(all_lines(objects))

    uninterrupted = tmp_path / "u.sqlite"
    assert backfill(str(tmp_path / "logs"), "--db", str(uninterrupted), "--workers", "2").returncode == 0
    tables = ("backfill", "backfilled_days", "backfill_daily")
    assert normal(dump(db, *tables)) == normal(dump(uninterrupted, *tables))


def normal(tables: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """Rows as SQLite and PostgreSQL both give them: days as text, numbers as int."""
    return {
        name: sorted(tuple(v.isoformat() if isinstance(v, dt.date) else v for v in row) for row in rows)
        for name, rows in tables.items()
    }


def test_an_object_is_streamed_not_held_in_memory(tmp_path, monkeypatch) -> None:
    """Memory follows the chunk size, not the object's: with 1 MB chunks (8 MB by
    default), a 17 MB log (gzipped to little) is counted in a few MB, and one four times
    as long in no more."""
    monkeypatch.setattr(reading, "CHUNK_BYTES", 1 << 20)
    line = b'198.51.100.7 - - [18/Nov/2026:10:00:00 +0000] "GET /lodash/-/lodash-4.17.21.tgz HTTP/1.1" 200 318961 "-" "npm/10"\n'
    warm_for("combined")  # numba's loading is no part of what is measured
    peaks = []
    for copies in (150_000, 600_000):
        folder = tmp_path / f"logs{copies}"
        name = "cdn/2026/11/18/big.gz"
        (folder / "cdn" / "2026" / "11" / "18").mkdir(parents=True)
        with gzip.open(folder / name, "wb", compresslevel=1) as out:
            for _ in range(copies // 1000):
                out.write(line * 1000)
        source = parse_source(str(folder))
        [info] = list_objects(source)
        gc.collect()  # nor the finalizers of what earlier tests left to the collector
        tracemalloc.start()
        try:
            result = process_object(Task(source, info))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert result.error is None
        assert result.rows.tuples() == [("lodash", FIRST_DAY.isoformat(), "4.17.21", copies)]
        peaks.append(peak)
    small, large = peaks
    assert small < 10_000_000, f"peak {small:,} bytes for a {len(line) * 150_000:,}-byte log"
    assert large < small + 1_000_000, f"peaks {peaks} for logs of 17 and 68 MB"


def test_progress_bar_on_a_terminal_only(tmp_path) -> None:
    write_folder(tmp_path / "logs", generate(4, 200))
    main, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "log_parser", "backfill", str(tmp_path / "logs"), "--db", str(tmp_path / "d.sqlite")],
        stdout=subprocess.PIPE,
        stderr=secondary,
    )
    os.close(secondary)
    shown = b""
    try:
        while True:
            try:
                data = os.read(main, 4096)
            except OSError:  # EIO: the terminal's other side closed
                break
            if not data:
                break
            shown += data
        assert process.wait(30) == 0
    finally:
        os.close(main)
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stdout is not None
    assert json.loads(process.stdout.read())["processed"] == 4
    text = shown.decode()
    assert "\r[" in text
    assert "] 4/4 objects" in text
    assert "lines/s  ETA" in text
    assert "backfill: 4 objects read" in text  # the summary line after the bar
    # not on a terminal: no bar, only the summary line
    piped = backfill(str(tmp_path / "logs"), "--db", str(tmp_path / "e.sqlite"))
    assert "\r" not in piped.stderr
    assert piped.stderr.startswith("backfill: 4 objects read")


def test_each_object_in_its_own_format(tmp_path) -> None:
    """CloudFront (W3C) and combined objects side by side, each format told by its lines."""
    objects = generate(4, 800, seed=21)
    folder = tmp_path / "logs"
    write_folder(folder, dict(list(objects.items())[:2]))
    for name, lines in list(objects.items())[2:]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(gzip.compress(as_cloudfront(lines).encode()))
    result = backfill(str(folder), "--db", str(tmp_path / "d.sqlite"))
    assert result.returncode == 0, result.stderr
    assert store_counts(tmp_path / "d.sqlite") == reference_count(all_lines(objects))


def test_a_killed_worker_costs_nothing_its_objects_are_read_again(tmp_path) -> None:
    objects = generate(24, 2500, seed=4)
    with running_backfill(tmp_path, objects) as (process, db):
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
        assert wait_for(lambda: len(children.read_text().split()) == 2, 30, interval=0.005)
        first_pool = children.read_text().split()
        os.kill(int(first_pool[0]), signal.SIGKILL)  # as the OOM killer would
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    summary = json.loads(stdout)
    assert (summary["processed"], summary["failed"]) == (24, [])
    assert store_counts(db) == reference_count(all_lines(objects))
    assert not any(Path(f"/proc/{pid}").exists() for pid in first_pool)  # the broken pool's workers are gone


def test_sigterm_stops_between_objects_and_keeps_what_was_read(tmp_path) -> None:
    count = 96  # as in the kill test: the signal falls between the first commit and the last
    objects = generate(count, 2500, days=8, seed=5)
    with running_backfill(tmp_path, objects) as (process, db):
        assert wait_for(lambda: recorded(db) >= 1, 60, interval=0.005)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "Traceback" not in stderr
    assert "interrupted (run again to finish)" in stderr
    summary = json.loads(stdout)
    assert summary["interrupted"]
    assert summary["processed"] == recorded(db) < count

    rerun = backfill(str(tmp_path / "logs"), "--db", str(db))
    assert rerun.returncode == 0, rerun.stderr
    assert summary_of(rerun)["processed"] == count - summary["processed"]
    assert store_counts(db) == reference_count(all_lines(objects))


def test_any_libcloud_driver_by_name(tmp_path) -> None:
    """The generic path, with a real driver: libcloud's local one by its provider name
    (its key is the folder holding the container)."""
    objects = generate(3, 300, seed=9)
    write_folder(tmp_path / "logs", objects)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "log_parser",
            "backfill",
            "libcloud+local://logs/cdn/",
            "--db",
            str(tmp_path / "d.sqlite"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NUMBAT_STORAGE_KEY": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert summary_of(result)["processed"] == 3
    assert store_counts(tmp_path / "d.sqlite") == reference_count(all_lines(objects))


def _dies_on_poison(task: Task) -> ObjectResult:
    """process_object, but the worker process dies on an object named poison."""
    if task.object.name.endswith("poison.gz"):
        os._exit(9)
    return process_object(task)


def test_an_object_that_kills_its_worker_twice_fails_by_name(tmp_path, monkeypatch) -> None:
    objects = generate(10, 200, seed=10)
    write_folder(tmp_path / "logs", objects)
    write_folder(tmp_path / "logs", {"cdn/poison.gz": ["never read"]})
    monkeypatch.setattr(executors_module, "process_object", _dies_on_poison)
    source = parse_source(str(tmp_path / "logs"))
    store = Store(tmp_path / "d.sqlite")
    pool = LocalPool(2)
    try:
        summary = Backfill(source, store, pool).run()
    finally:
        pool.close()
        store.close()
    assert list(summary.failed) == [source.object_key("cdn/poison.gz")]
    assert "BrokenProcessPool" in summary.failed[source.object_key("cdn/poison.gz")]
    assert summary.processed == 10
    assert store_counts(tmp_path / "d.sqlite") == reference_count(all_lines(objects))


def test_lines_past_midnight_wait_for_their_own_day(tmp_path) -> None:
    """The last hour's object of a day holds lines of the next one (CDN logs spill over):
    until that day is backfilled, it is answered from its live counts."""
    first_day = {object_name(FIRST_DAY, hour, hour): object_lines(hour, FIRST_DAY, hour, 400) for hour in (22, 23)}
    next_day = FIRST_DAY + dt.timedelta(days=1)
    second_day = {object_name(next_day, 0, 100): object_lines(100, next_day, 0, 400)}
    assert any(key[2] == next_day for key in reference_count(all_lines(first_day))), "no line past midnight"
    db = tmp_path / "d.sqlite"
    store = Store(db)
    store.add_live({("lodash", "4.17.21", next_day): 12_345})
    store.close()
    write_folder(tmp_path / "logs", first_day)
    assert backfill(str(tmp_path / "logs"), "--db", str(db)).returncode == 0
    counts = store_counts(db)
    assert {key: n for key, n in counts.items() if key[2] == FIRST_DAY} == {
        key: n for key, n in reference_count(all_lines(first_day)).items() if key[2] == FIRST_DAY
    }
    assert {key: n for key, n in counts.items() if key[2] == next_day} == {("lodash", "4.17.21", next_day): 12_345}

    write_folder(tmp_path / "logs", second_day)  # the next day's objects: now it is backfilled
    assert backfill(str(tmp_path / "logs"), "--db", str(db)).returncode == 0
    assert store_counts(db) == reference_count(all_lines(first_day | second_day))
