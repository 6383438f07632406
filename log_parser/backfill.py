"""Backfill: re-count historical log objects into the downloads store.

The parts, each with one job:

- :func:`plan` (pure) chooses the objects to read: those under the prefix, in the date
  range (by the dates their names carry), and not already finished in the same version
  (etag and size) with the same selection. That one rule makes a rerun skip what is
  done, take up an object that arrived late, and redo one that changed.
- :func:`process_object` is the worker: it streams one object (decompressed on the fly, a
  bounded chunk at a time), tallies it and returns its day counts and figures. It never
  raises for a bad object: the failure comes back named in its result. A damaged
  compressed object read to its last listed byte is counted as far as it goes and comes
  back with its damage named: read again, it would give the same bytes. One read short of
  its listed size failed to read, and comes back failed, to be tried again.
- Executors run workers: in this process, in a local process pool, or on a Dask cluster
  (``cluster.py``),
  a bounded number of objects in flight; results come back as objects finish.
- :class:`Backfill` is the shell: it lists, plans, runs, and alone writes to the store,
  whole objects per transaction (an object's counts replace its earlier ones, and its
  record, in the same transaction, says it is done). Killed at any point, the store holds
  whole objects only, so a rerun finishes the job with exactly the totals of an
  uninterrupted run.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import io
import multiprocessing
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from .reading import ChunkReader, tally_stream
from .sources import ObjectInfo, Source, date_in_name, list_objects, stream_object
from .store import BackfilledObject, ObjectRecord, ObjectRows, Store, object_rows, to_day_counts

#: Bytes asked of the store per read, and the read buffer in front of the decompressor.
READ_BYTES = 1 << 20
#: Objects are written as they arrive and committed together, whole, up to this many at
#: once or this many seconds apart: each commit writes every index page its rows touched,
#: so a commit per object costs the parent about twice as much. The last few objects are
#: committed one by one as they come, while the workers still read, so that little is
#: left to write at the end.
MAX_BATCH = 32
COMMIT_INTERVAL = 0.5
TAIL = 4
#: Objects in flight per worker (queued or being read).
IN_FLIGHT_PER_WORKER = 8
#: linux/prctl.h
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Selection:
    """A date range, both ends included; either end may be open."""

    since: dt.date | None = None
    until: dt.date | None = None

    def __bool__(self) -> bool:
        return self.since is not None or self.until is not None

    def contains(self, day: dt.date) -> bool:
        return (self.since is None or day >= self.since) and (self.until is None or day <= self.until)

    def key(self) -> str:
        """How the selection is recorded with an object whose counts it limited."""
        if not self:
            return ""
        return f"{self.since or ''}..{self.until or ''}"


@dataclass(frozen=True)
class Task:
    """One object to read. ``day``: the date its name carries, the day it vouches for.
    ``window``: keep only the days in it, for an object whose name carries no date (its
    contents decide)."""

    source: Source
    object: ObjectInfo
    format: str = "auto"
    window: Selection = Selection()
    day: dt.date | None = None
    json_fields: tuple[tuple[str, str], ...] = ()  #: our field -> the log's key (JSON logs)


@dataclass
class ObjectResult:
    name: str  #: the object's key in the store (see Source.object_key)
    record: ObjectRecord
    rows: ObjectRows = field(default_factory=lambda: ObjectRows.of([]))  #: made in the worker: the parent only writes
    days: tuple[str, ...] | None = None  #: the days it vouches for (see BackfilledObject)
    requests: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    bytes_read: int = 0
    seconds: float = 0.0
    error: str | None = None
    format: str | None = None  #: the format its lines were read as
    damage: str | None = None  #: what was wrong with the (compressed) object, counted as far as it went

    @property
    def lines(self) -> int:
        return self.record.lines


@dataclass(frozen=True)
class Plan:
    listed: int
    todo: list[Task]
    already_done: int
    out_of_range: int


def plan(
    source: Source,
    listed: Iterable[ObjectInfo],
    records: Mapping[str, ObjectRecord],
    selection: Selection = Selection(),
    format_name: str = "auto",
    *,
    json_fields: Mapping[str, str] | None = None,
) -> Plan:
    """The tasks of a run. Pure: the listing and the store's records come in."""
    todo: list[Task] = []
    count = done = out_of_range = 0
    for info in listed:
        count += 1
        day = date_in_name(info.name)
        if day is not None and not selection.contains(day):
            out_of_range += 1
            continue
        window = selection if day is None else Selection()
        record = records.get(source.object_key(info.name))
        if record is not None and (record.etag, record.size, record.selection) == (info.etag, info.size, window.key()):
            done += 1
            continue
        todo.append(Task(source, info, format_name, window, day, tuple(sorted((json_fields or {}).items()))))
    return Plan(count, todo, done, out_of_range)


class ShortRead(OSError):
    """The object's stream ended before the size its listing gave."""


def process_object(task: Task) -> ObjectResult:
    """Stream, decompress and tally one object (the worker; runs in any process). Whatever
    goes wrong with this object is returned, named, instead of raised: the others go on."""
    started = time.perf_counter()
    info = task.object
    reader = None
    try:
        reader = ChunkReader(stream_object(task.source, info, READ_BYTES))
        tally = tally_stream(io.BufferedReader(reader, READ_BYTES), task.format, json_fields=dict(task.json_fields))
        if reader.bytes_read < info.size:  # counting it would record a part as the whole
            damage = f": {tally.damage}" if tally.damage else ""
            raise ShortRead(f"read {reader.bytes_read:,} of the {info.size:,} bytes listed{damage}")
    except Exception as exc:  # one object's failure, whatever it is, is reported, not fatal
        return failure(task, exc, bytes_read=reader.bytes_read if reader else 0, seconds=time.perf_counter() - started)
    counts = to_day_counts(tally.downloads.items())
    if task.window:
        counts = {key: n for key, n in counts.items() if task.window.contains(key[2])}
    rejected = sum(tally.rejected.values())
    return ObjectResult(
        task.source.object_key(info.name),
        ObjectRecord(
            info.etag,
            info.size,
            task.window.key(),
            lines=tally.requests + rejected,
            downloads=sum(counts.values()),
            rejected=rejected,
        ),
        rows=object_rows(counts),
        days=None if task.day is None else (task.day.isoformat(),),
        requests=tally.requests,
        rejected=dict(tally.rejected),
        bytes_read=reader.bytes_read,
        seconds=time.perf_counter() - started,
        format=tally.format,
        damage=tally.damage,
    )


# -- executors ----------------------------------------------------------------------------


class Executor(Protocol):
    """Runs tasks, yields their results as they finish (in any order)."""

    description: str

    def run(self, tasks: list[Task]) -> Iterator[ObjectResult]: ...

    def close(self) -> None: ...


class InProcess:
    """One worker: this process; nothing to start, nothing to pickle."""

    description = "1 worker (in process)"

    def run(self, tasks: list[Task]) -> Iterator[ObjectResult]:
        return map(process_object, tasks)

    def close(self) -> None:
        pass


class LocalPool:
    """A pool of worker processes on this machine, at most ``IN_FLIGHT_PER_WORKER``
    objects each in flight: enough that the workers keep busy while the parent writes a
    batch, few enough that memory is bounded however many objects there are."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.description = f"{workers} worker processes"
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # fork: workers start at once with the code already imported (spawn would import
        # numbat and libcloud again in each); the parent has no threads at this point.
        return ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("fork"), initializer=_init_worker
        )

    def run(self, tasks: list[Task]) -> Iterator[ObjectResult]:
        return _windowed(tasks, self._submit, IN_FLIGHT_PER_WORKER * self.workers)

    def _submit(self, task: Task) -> Future[ObjectResult]:
        try:
            return self._pool.submit(process_object, task)
        except BrokenExecutor:
            # A worker was killed (the OOM killer, a signal): the objects then in flight
            # come back failed and are tried again (once) in a new pool, with the rest.
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = self._new_pool()
            return self._pool.submit(process_object, task)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _windowed(tasks: list[Task], submit: Callable[[Task], Future[ObjectResult]], limit: int) -> Iterator[ObjectResult]:
    """At most ``limit`` tasks in flight; results as they finish. A task lost with its
    pool (a worker was killed) is tried once more, so one killed worker costs nothing and
    an object that kills its worker twice fails, by name."""
    pending = iter(tasks)
    in_flight: dict[Future[ObjectResult], Task] = {}
    retried: set[int] = set()
    for task in take(pending, limit):
        in_flight[submit(task)] = task
    while in_flight:
        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            task = in_flight.pop(future)
            if isinstance(future.exception(), BrokenExecutor) and id(task) not in retried:
                retried.add(id(task))
                next_tasks = [task]
            else:
                yield result_of(future, task)
                next_tasks = take(pending, 1)
            for more in next_tasks:
                try:
                    in_flight[submit(more)] = more
                except BrokenExecutor as exc:
                    yield failure(more, exc)
                    yield from (failure(rest, exc) for rest in pending)


def result_of(future: Any, task: Task) -> ObjectResult:
    """The worker's result, or a failure naming the object when the worker itself died."""
    try:
        result: ObjectResult = future.result()
    except Exception as exc:
        return failure(task, exc)
    return result


def failure(task: Task, exc: BaseException, *, bytes_read: int = 0, seconds: float = 0.0) -> ObjectResult:
    """The result of an object that could not be counted, naming why."""
    info = task.object
    return ObjectResult(
        task.source.object_key(info.name),
        ObjectRecord(info.etag, info.size, task.window.key()),
        bytes_read=bytes_read,
        seconds=seconds,
        error=f"{type(exc).__name__}: {exc}",
    )


def take(iterator: Iterator[Task], count: int) -> list[Task]:
    return [task for _, task in zip(range(count), iterator, strict=False)]


def _init_worker() -> None:
    """Pool workers leave Ctrl-C to the parent, which stops the run in good order, and
    die of SIGTERM (the pool's own way to end them; forked, they would have the parent's
    handler). On Linux they also ask the kernel to end them when the parent dies, so that
    a backfill killed with SIGKILL leaves no workers behind (waiting for work forever)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the parent died before the request took hold
            os._exit(1)


# -- the shell ----------------------------------------------------------------------------


@dataclass
class Summary:
    source: str
    executor: str
    listed: int = 0
    selected: int = 0
    already_done: int = 0
    out_of_range: int = 0
    processed: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    damaged: dict[str, str] = field(default_factory=dict)  #: recorded, counted as far as they could be read
    lines: int = 0
    requests: int = 0
    downloads: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    formats: Counter[str] = field(default_factory=Counter)  #: objects read, by the format they were read as
    bytes_read: int = 0
    seconds: float = 0.0
    worker_seconds: float = 0.0  #: spent reading objects, all workers together
    interrupted: bool = False

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "executor": self.executor,
            "listed": self.listed,
            "selected": self.selected,
            "already_done": self.already_done,
            "out_of_range": self.out_of_range,
            "processed": self.processed,
            "failed": [{"object": name, "error": error} for name, error in sorted(self.failed.items())],
            "damaged": [{"object": name, "damage": damage} for name, damage in sorted(self.damaged.items())],
            "lines": self.lines,
            "requests": self.requests,
            "downloads": self.downloads,
            "rejected": dict(self.rejected),
            "formats": dict(self.formats),
            "bytes_read": self.bytes_read,
            "seconds": round(self.seconds, 3),
            "worker_seconds": round(self.worker_seconds, 3),
            "lines_per_second": round(self.lines_per_second),
            "interrupted": self.interrupted,
        }

    def line(self) -> str:
        status = f"{len(self.failed)} FAILED" if self.failed else "none failed"
        if self.damaged:
            status += f", {len(self.damaged)} damaged (counted as far as readable)"
        if self.interrupted:
            status += ", interrupted (run again to finish)"
        return (
            f"backfill: {self.processed} objects read, {self.already_done} already done, "
            f"{self.out_of_range} out of range, {status}; {self.lines:,} lines, {self.downloads:,} downloads, "
            f"{self.lines_per_second:,.0f} lines/s in {self.seconds:.1f} s"
        )


class ProgressSink(Protocol):
    def start(self, objects: int, total_bytes: int) -> None: ...

    def advance(self, result: ObjectResult) -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    def start(self, objects: int, total_bytes: int) -> None:
        pass

    def advance(self, result: ObjectResult) -> None:
        pass

    def finish(self) -> None:
        pass


class Backfill:
    def __init__(
        self,
        source: Source,
        store: Store,
        executor: Executor,
        *,
        selection: Selection = Selection(),
        format_name: str = "auto",
        json_fields: Mapping[str, str] | None = None,
        progress: ProgressSink | None = None,
    ) -> None:
        self.source = source
        self.store = store
        self.executor = executor
        self.selection = selection
        self.format_name = format_name
        self.json_fields = dict(json_fields or {})
        self.progress = progress or NoProgress()

    def run(self) -> Summary:
        """List, plan, run and record. KeyboardInterrupt stops it between objects: what
        is recorded is whole, and the summary says it was interrupted."""
        started = time.perf_counter()
        summary = Summary(self.source.describe(), self.executor.description)
        the_plan = plan(
            self.source,
            list_objects(self.source),
            self.store.object_records(),
            self.selection,
            self.format_name,
            json_fields=self.json_fields,
        )
        summary.listed, summary.selected = the_plan.listed, len(the_plan.todo)
        summary.already_done, summary.out_of_range = the_plan.already_done, the_plan.out_of_range
        self.progress.start(len(the_plan.todo), sum(task.object.size for task in the_plan.todo))
        batch: list[ObjectResult] = []
        last_commit = time.monotonic()
        to_come = len(the_plan.todo)
        try:
            for result in self.executor.run(the_plan.todo):
                to_come -= 1
                summary.worker_seconds += result.seconds
                if result.error is None:
                    self.store.add_object(BackfilledObject(result.name, result.rows, result.record, result.days))
                    batch.append(result)
                    if result.damage is not None:
                        summary.damaged[result.name] = result.damage
                else:
                    summary.failed[result.name] = result.error
                    summary.bytes_read += result.bytes_read
                due = len(batch) >= MAX_BATCH or time.monotonic() - last_commit >= COMMIT_INTERVAL
                if batch and (due or to_come < TAIL):
                    self._commit(batch, summary)
                    last_commit = time.monotonic()
                self.progress.advance(result)
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            self._commit(batch, summary)
            self.progress.finish()
            summary.seconds = time.perf_counter() - started
        return summary

    def _commit(self, batch: list[ObjectResult], summary: Summary) -> None:
        """The objects written since the last commit, in one transaction: a crash keeps
        all of them or none. Ctrl-C and SIGTERM wait until the commit is counted in the
        summary: one that fell in between would count the batch twice."""
        if not batch:
            return
        with _signals_held():
            self._commit_now(batch, summary)

    def _commit_now(self, batch: list[ObjectResult], summary: Summary) -> None:
        self.store.commit()
        for result in batch:
            summary.processed += 1
            summary.lines += result.lines
            summary.requests += result.requests
            summary.downloads += result.record.downloads
            summary.rejected.update(result.rejected)
            if result.format is not None:
                summary.formats[result.format] += 1
            summary.bytes_read += result.bytes_read
        batch.clear()


class _HeldInterrupts:
    """Whether Ctrl-C and SIGTERM are held back now, and whether one came meanwhile."""

    holding = False
    pending = False


_HELD = _HeldInterrupts()


def interrupt(signum: int, frame: object) -> None:
    """The handler of SIGINT and SIGTERM for a backfill run (the CLI installs it): stop
    the run with KeyboardInterrupt, between objects; inside a commit, once it is counted."""
    if _HELD.holding:
        _HELD.pending = True
        return
    raise KeyboardInterrupt


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Interrupts held back inside the block, then raised: a handler runs in the main
    thread whichever thread the signal came to, so masking it there would not do."""
    _HELD.holding = True
    try:
        yield
    finally:
        _HELD.holding = False
    if _HELD.pending:
        _HELD.pending = False
        raise KeyboardInterrupt
