"""One object, counted: the backfill's worker, run in any process (this one, a pool's, a
Dask worker's).

Strategy: the object is streamed (decompressed on the fly, a bounded chunk at a time),
tallied, and its day counts made into rows here, so that the parent only writes. It never
raises for a bad object: the failure comes back named in its result. A damaged
compressed object read to its last listed byte is counted as far as it goes and comes
back with its damage named: read again, it would give the same bytes. One read short of
its listed size failed to read, and comes back failed, to be tried again.
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass, field

from .._reading import ChunkReader, tally_stream
from ..core._counting import DAY
from ..core._memory import CounterMemory
from ..store import ObjectRecord, ObjectRows, object_rows, to_day_counts
from ._plan import Task
from ._sources import stream_object

#: Bytes asked of the store per read, and the read buffer in front of the decompressor.
READ_BYTES = 1 << 20


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
        tally = tally_stream(
            io.BufferedReader(reader, READ_BYTES),
            task.format,
            json_fields=dict(task.json_fields),
            resolution=DAY,  # the store keeps days: some twenty times fewer counts to fold into rows than minutes
            memory=_thread_memory(),
        )
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


_memories = threading.local()


def _thread_memory() -> CounterMemory:
    """What this thread's counters hand on to the next (the tarball paths known, judged
    once per worker rather than once per object); a Dask worker runs tasks in threads."""
    found: CounterMemory | None = getattr(_memories, "memory", None)
    if found is None:
        found = _memories.memory = CounterMemory()
    return found


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
