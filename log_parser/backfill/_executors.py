"""Executors run the backfill's workers and hand back results as objects finish: in this
process, or in a pool of local processes (the Dask one is :mod:`._dask`).

Strategy: a bounded number of objects in flight (:data:`IN_FLIGHT_PER_WORKER` each),
enough that workers keep busy while the parent writes, few enough that memory is bounded
however many objects there are. A task lost with its pool (a killed worker) is tried once
more in a new pool; one that kills its worker twice fails, by name.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

from ._plan import Task
from ._worker import ObjectResult, failure, process_object

#: Objects in flight per worker (queued or being read).
IN_FLIGHT_PER_WORKER = 8
#: linux/prctl.h
PR_SET_PDEATHSIG = 1


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
        # numbat and libcloud again in each), and with the compiled scanner when the parent
        # loaded it first (the command does: warm_for); the parent has no threads yet.
        # The objects the workers inherit are frozen first (Python's advice for forked
        # workers): out of every garbage collection, which would walk them in each worker
        # (a full collection walks them all) and, writing to their headers, copy their
        # pages. Measured on bench/backfill.py's 40 objects: the workers' collections
        # took 0.06 s instead of 0.15-0.18 s of their 1.8-2.1 s.
        gc.freeze()
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
    for task in next_tasks(pending, limit):
        in_flight[submit(task)] = task
    while in_flight:
        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            task = in_flight.pop(future)
            if isinstance(future.exception(), BrokenExecutor) and id(task) not in retried:
                retried.add(id(task))
                to_submit = [task]
            else:
                yield result_of(future, task)
                to_submit = next_tasks(pending, 1)
            for more in to_submit:
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


def next_tasks(pending: Iterator[Task], count: int) -> list[Task]:
    """The next ``count`` tasks of ``pending`` (fewer at its end)."""
    return [task for _, task in zip(range(count), pending, strict=False)]


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
