"""``numbat-logs backfill``: re-count historical log objects from object storage into the
downloads store.

The parts, each with one job: the sources (a URL to a libcloud driver, the objects
listed, the dates their names carry), the plan (which objects to read; pure), the worker
(one object streamed and counted, in any process), the executors (this process, a local
pool, a Dask cluster), the shell :class:`Backfill` (list, plan, run, and alone write the
store, whole objects per transaction), its summary and its progress bar.
"""

from __future__ import annotations

from ._executors import Executor, InProcess, LocalPool
from ._job import Backfill, interrupt
from ._plan import Plan, Selection, Task, plan
from ._progress import NoProgress, ProgressDisplay, TerminalProgress
from ._sources import Credentials, ObjectInfo, Source, SourceError, load_credentials, parse_source
from ._summary import Summary
from ._worker import ObjectResult, process_object

__all__ = [
    "Backfill",
    "Credentials",
    "Executor",
    "InProcess",
    "LocalPool",
    "NoProgress",
    "ObjectInfo",
    "ObjectResult",
    "Plan",
    "ProgressDisplay",
    "Selection",
    "Source",
    "SourceError",
    "Summary",
    "Task",
    "TerminalProgress",
    "interrupt",
    "load_credentials",
    "parse_source",
    "plan",
    "process_object",
]
