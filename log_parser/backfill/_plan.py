"""Which objects a backfill reads. Pure: the listing and the store's records come in, tasks
go out.

Strategy: one rule. An object is read when it is under the prefix, in the date range (by
the date its name carries; one whose name carries none is read, and only its lines of
days in the range count), and not already finished in the same version (etag and size)
with the same selection. That rule alone makes a rerun skip what is done, take up an
object that arrived late, and redo one that changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..store import ObjectRecord
from ._sources import ObjectInfo, Source, date_in_name


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
