"""The collector's internal event shape and the batches events travel in. Sans-I/O.

An event is a numbat event: a dict with ``name`` (str), ``value`` and ``time`` (ms
since the epoch), plus any other fields. Whatever format it arrived in, every decoder
produces this shape, so sinks need to know only one.

Events travel in batches (one datagram, one read from a connection, one HTTP body),
so the per-event cost of routing is a list append, not a task switch. A batch keeps
the original JSON line of each numbat event that was used exactly as it arrived, so
sinks that write JSON lines pass those bytes on instead of encoding them again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

Event = dict[str, Any]


@dataclass(slots=True)
class Rejection:
    """One input line that could not be decoded, and why."""

    reason: str
    line: bytes

    MAX_SAMPLE = 200

    @property
    def sample(self) -> str:
        """The start of the line, printable, for logs."""
        return self.line[: self.MAX_SAMPLE].decode("utf-8", "replace")


@dataclass(slots=True)
class Batch:
    """Events decoded together, with their JSON lines where those are still exact."""

    events: list[Event] = field(default_factory=list)
    #: For each event, its original JSON line (no newline) when the event is exactly
    #: that line, else None.
    raw: list[bytes | None] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.events)

    def add(self, event: Event, raw: bytes | None = None) -> None:
        self.events.append(event)
        self.raw.append(raw)

    def reject(self, reason: str, line: bytes) -> None:
        self.rejections.append(Rejection(reason, line))

    def json_lines(self) -> bytes:
        """Every event as newline-terminated JSON, reusing the original lines."""
        raw = self.raw
        if None not in raw:
            return b"\n".join(raw) + b"\n" if raw else b""  # type: ignore[arg-type]
        dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        return b"".join(
            line + b"\n" if line is not None else dumps(event, option=option, default=str)
            for event, line in zip(self.events, raw, strict=True)
        )

    def select(self, keep: Callable[[str], bool]) -> Batch:
        """The events whose name ``keep`` accepts (no rejections: those were counted)."""
        selected = Batch()
        for event, line in zip(self.events, self.raw, strict=True):
            if keep(event["name"]):
                selected.events.append(event)
                selected.raw.append(line)
        return selected
