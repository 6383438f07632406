"""Running a backfill's workers on an existing Dask cluster.

Strategy: the same window as the local pool (a bounded number of objects in flight, the
next submitted as one finishes), over Dask futures. A module of its own so that Dask stays
optional: the command imports it only when given a scheduler's address.
"""

from __future__ import annotations

from collections.abc import Iterator

from distributed import Client, as_completed

from ._executors import IN_FLIGHT_PER_WORKER, next_tasks, result_of
from ._plan import Task
from ._worker import ObjectResult, process_object


class DaskCluster:
    """An existing Dask cluster, by its scheduler's address. Its workers need numbat
    installed; the task (with the source's credentials) travels to them pickled."""

    def __init__(self, address: str, timeout: float = 30.0) -> None:
        self._client = Client(address, timeout=timeout, set_as_default=False)
        workers = len(self._client.scheduler_info().get("workers", {}))
        self.description = f"Dask cluster at {address} ({workers} workers)"
        self._in_flight = IN_FLIGHT_PER_WORKER * max(sum(self._client.nthreads().values()), 1)

    def run(self, tasks: list[Task]) -> Iterator[ObjectResult]:
        pending = iter(tasks)
        in_flight: dict[object, Task] = {}
        finished = as_completed(loop=self._client.loop)

        def submit(task: Task) -> None:
            future = self._client.submit(process_object, task, pure=False)
            in_flight[future.key] = task
            finished.add(future)

        for task in next_tasks(pending, self._in_flight):
            submit(task)
        for future in finished:
            yield result_of(future, in_flight.pop(future.key))
            for task in next_tasks(pending, 1):
                submit(task)

    def close(self) -> None:
        self._client.close()
