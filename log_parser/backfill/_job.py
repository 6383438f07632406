"""The backfill shell: list, plan, run the workers, and alone write to the store.

Strategy: results are written as they arrive, whole objects per transaction (an object's
counts replace its earlier ones, and its record, in the same transaction, says it is
done), a batch of objects per commit. Killed at any point, the store holds whole objects
only, so a rerun finishes the job with exactly the totals of an uninterrupted run.
Ctrl-C (KeyboardInterrupt) stops it between objects, and what was read is kept.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping

from ..store import BackfilledObject, Store
from ._executors import Executor
from ._plan import Selection, Task, plan
from ._progress import NoProgress, ProgressDisplay
from ._sources import Source, list_objects
from ._summary import Summary
from ._worker import ObjectResult

#: Objects are written as they arrive and committed together, whole, up to this many at
#: once or this many seconds apart: each commit writes every index page its rows touched,
#: so batching commits keeps the parent ahead of its workers (bench/backfill.py). The last
#: few objects are committed one by one as they come, while the workers still read, so
#: that little is left to write at the end.
MAX_BATCH = 32
COMMIT_INTERVAL = 0.5
TAIL = 4


class Backfill:
    def __init__(
        self,
        source: Source,
        store: Store,
        executor: Executor,
        *,
        selection: Selection | None = None,
        format_name: str = "auto",
        json_fields: Mapping[str, str] | None = None,
        progress: ProgressDisplay | None = None,
    ) -> None:
        self.source = source
        self.store = store
        self.executor = executor
        self.selection = selection or Selection()
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
            for result in self.executor.run(largest_first(the_plan.todo)):
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
        with _interrupts_held():
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


def largest_first(tasks: list[Task]) -> list[Task]:
    """The tasks, the largest objects first: workers that take the next object as they
    finish one end together, within the time of a small object, rather than one of them
    reading a large object alone at the end while the others wait (the longest-first
    rule of list scheduling)."""
    return sorted(tasks, key=lambda task: task.object.size, reverse=True)


class _HeldInterrupts:
    """Whether Ctrl-C and SIGTERM are held back now, and whether one came meanwhile."""

    holding = False
    pending = False


_HELD = _HeldInterrupts()


def interrupt(signum: int, frame: object) -> None:
    """The handler of SIGINT and SIGTERM for a backfill run (the command installs it): stop
    the run with KeyboardInterrupt, between objects; inside a commit, once it is counted."""
    if _HELD.holding:
        _HELD.pending = True
        return
    raise KeyboardInterrupt


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
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
