"""A disk spool: an append-only, checksummed queue of records in segment files.

A sink whose store is away appends its encoded batches here and replays them, in
order, once the store is back, also after a restart. Every record carries a CRC, so a
torn tail (kill -9, a full disk) or a flipped bit is found, counted and skipped: the
records around it are still read. The size is capped: past it the oldest segments go,
counted. Blocking file I/O: sinks call it from a worker thread.

Record layout: ``MAGIC`` (4 bytes), payload length (4), event count (4), CRC-32 of
length, count and payload (4), then the payload.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MAGIC = b"NBS1"
HEADER = struct.Struct(">4sIII")  # magic, length, count, crc
SEGMENT_SUFFIX = ".spool"
Fsync = Literal["always", "interval", "never"]


# -- the record format, sans-I/O --------------------------------------------------------


def encode_record(payload: bytes, count: int) -> bytes:
    body = struct.pack(">II", len(payload), count)
    return HEADER.pack(MAGIC, len(payload), count, zlib.crc32(payload, zlib.crc32(body))) + payload


@dataclass(frozen=True, slots=True)
class Record:
    offset: int  #: where it starts in its segment
    end: int  #: where the next one starts
    payload: bytes
    count: int


@dataclass(frozen=True, slots=True)
class Damage:
    offset: int
    end: int  #: where reading resumed (a later record's start, or the end of the data)
    torn: bool  #: the data ends inside a record, as after a crash mid-append


def scan(data: bytes, offset: int = 0) -> Iterator[Record | Damage]:
    """Every record in ``data`` from ``offset``, and every damaged stretch between them."""
    size = len(data)
    while offset < size:
        record = _read(data, offset)
        if isinstance(record, Record):
            yield record
            offset = record.end
            continue
        resume = data.find(MAGIC, offset + 1)
        while resume != -1 and not isinstance(_read(data, resume), Record):
            resume = data.find(MAGIC, resume + 1)
        end = size if resume == -1 else resume
        yield Damage(offset, end, torn=record == "torn" and resume == -1)
        offset = end


def _read(data: bytes, offset: int) -> Record | str:
    if offset + HEADER.size > len(data):
        return "torn"
    magic, length, count, crc = HEADER.unpack_from(data, offset)
    if magic != MAGIC:
        return "bad"
    end = offset + HEADER.size + length
    if end > len(data):
        return "torn"
    payload = data[offset + HEADER.size : end]
    if zlib.crc32(payload, zlib.crc32(struct.pack(">II", length, count))) != crc:
        return "bad"
    return Record(offset, end, payload, count)


# -- the spool ---------------------------------------------------------------------------


@dataclass
class SpoolCounters:
    replayed_events: int = 0
    dropped_events: int = 0  #: oldest segments removed to respect max_bytes
    damaged_stretches: int = 0


@dataclass
class _Segment:
    number: int
    path: Path
    size: int = 0
    events: int = 0  #: in records not yet replayed


class Spool:
    """Append at the tail, replay from the head. Not thread-safe: one caller at a time.

    Where replay stands (segment, offset) is kept in a small ``cursor`` file, so a
    restart resumes there; if that file is lost, replay starts over, which the stores
    we spool for absorb (a point written twice is stored once).
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        max_bytes: int = 1 << 30,
        segment_bytes: int = 16 << 20,
        fsync: Fsync = "interval",
        fsync_interval: float = 1.0,
    ) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self.fsync_interval = fsync_interval
        self.counters = SpoolCounters()
        self._segments: list[_Segment] = []
        self._writer: int | None = None  # the last segment, open for appending
        self._last_sync = time.monotonic()
        self._cursor = 0  # offset in the first segment of the next record to replay
        self._reading: _Segment | None = None  # the segment _pending was read from
        self._pending: deque[Record] = deque()  # its records not yet replayed, in order
        self._read_to = 0  # how far into it we have read
        self._opened = False  # open() completed: there is state to save at close()
        #: Files named like segments that this spool did not name (``1.spool``), left alone.
        self.foreign_files: list[str] = []

    # -- opening -----------------------------------------------------------------------

    def open(self) -> None:
        """Take up the segments an earlier run left: check them, cut a torn tail off the
        last one (appends must not follow garbage), resume at the saved cursor."""
        self.directory.mkdir(parents=True, exist_ok=True)
        numbers = []
        for path in self.directory.glob(f"*{SEGMENT_SUFFIX}"):
            if path.stem.isdigit() and path == self._path(int(path.stem)):
                numbers.append(int(path.stem))
            else:  # not a name this spool writes: not ours to read or to remove
                self.foreign_files.append(path.name)
        numbers.sort()
        self.foreign_files.sort()
        cursor_number, cursor_offset = self._load_cursor()
        for number in numbers:
            path = self._path(number)
            if number < cursor_number:
                path.unlink()  # replayed before the restart
                continue
            segment = _Segment(number, path)
            data = path.read_bytes()
            segment.size = len(data)
            start = cursor_offset if number == cursor_number else 0
            valid_end = 0
            for item in scan(data):
                if isinstance(item, Record):
                    valid_end = item.end
                    segment.events += item.count if item.offset >= start else 0
                elif item.torn and number == numbers[-1]:
                    self._count_damage()
                    with open(path, "r+b") as file:
                        file.truncate(valid_end)
                    segment.size = valid_end
            self._segments.append(segment)
        if self._segments and self._segments[0].number == cursor_number:
            self._cursor = cursor_offset
        self._opened = True

    # -- appending ---------------------------------------------------------------------

    def append(self, payload: bytes, count: int) -> None:
        record = encode_record(payload, count)
        if not self._segments or (
            self._segments[-1].size and self._segments[-1].size + len(record) > self.segment_bytes
        ):
            self._start_segment()
        segment = self._segments[-1]
        if self._writer is None:
            self._writer = os.open(segment.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        view = memoryview(record)
        while view:
            view = view[os.write(self._writer, view) :]
        segment.size += len(record)
        segment.events += count
        if self.fsync == "always" or (
            self.fsync == "interval" and time.monotonic() - self._last_sync >= self.fsync_interval
        ):
            self.sync()
        self._enforce_cap()

    def _start_segment(self) -> None:
        self._close_writer()
        number = self._segments[-1].number + 1 if self._segments else 1
        self._segments.append(_Segment(number, self._path(number)))

    def _enforce_cap(self) -> None:
        while self.size_bytes > self.max_bytes and len(self._segments) > 1:
            self.counters.dropped_events += self._segments[0].events
            self._drop_first()

    def sync(self) -> None:
        if self._writer is not None and self.fsync != "never":
            os.fsync(self._writer)
        self._last_sync = time.monotonic()

    # -- replaying ---------------------------------------------------------------------

    def peek(self) -> Record | None:
        """The oldest record not yet replayed, or None when there is none."""
        while self._segments:
            first = self._segments[0]
            if self._reading is not first:
                self._reading, self._read_to = first, self._cursor
                self._pending.clear()
            if not self._pending and first.size > self._read_to:
                self._read_more(first)
            if self._pending:
                return self._pending[0]
            if first is self._segments[-1]:
                return None  # all replayed; the segment stays for appends
            self._drop_first()
        return None

    def commit(self, record: Record) -> None:
        """``record`` (the one peek() gave) reached the store: never replay it again."""
        if not self._pending or self._pending[0] is not record:
            raise ValueError("commit() takes the record peek() gave, once")
        self._pending.popleft()
        self._cursor = record.end
        self._segments[0].events -= record.count
        self.counters.replayed_events += record.count
        self._save_cursor()

    def _read_more(self, segment: _Segment) -> None:
        """Read what was appended since last time; records are whole, so it scans from a
        record boundary (or resynchronizes past damage)."""
        with open(segment.path, "rb") as file:
            file.seek(self._read_to)
            data = file.read(segment.size - self._read_to)
        base = self._read_to
        for item in scan(data):
            if isinstance(item, Record):
                self._pending.append(Record(base + item.offset, base + item.end, item.payload, item.count))
            else:
                self._count_damage()
        self._read_to = base + len(data)

    def _drop_first(self) -> None:
        first = self._segments.pop(0)
        if not self._segments:
            self._close_writer()
        first.path.unlink(missing_ok=True)
        self._reading, self._cursor = None, 0
        self._pending.clear()
        self._save_cursor()

    # -- state -------------------------------------------------------------------------

    @property
    def size_bytes(self) -> int:
        return sum(segment.size for segment in self._segments)

    @property
    def events(self) -> int:
        """Events waiting to be replayed."""
        return sum(segment.events for segment in self._segments)

    def close(self) -> None:
        """Save where replay stands. Nothing to do for a spool whose open() did not
        complete: its view of the segments is partial, and saving it could lose them."""
        if not self._opened:
            return
        self._close_writer()
        self._save_cursor()
        self._opened = False

    def _close_writer(self) -> None:
        if self._writer is not None:
            self.sync()
            os.close(self._writer)
            self._writer = None

    def _count_damage(self) -> None:
        self.counters.damaged_stretches += 1

    def _path(self, number: int) -> Path:
        return self.directory / f"{number:012d}{SEGMENT_SUFFIX}"

    def _save_cursor(self) -> None:
        number = self._segments[0].number if self._segments else 0
        temporary = self.directory / "cursor.tmp"
        temporary.write_text(f"{number} {self._cursor}\n")
        temporary.replace(self.directory / "cursor")

    def _load_cursor(self) -> tuple[int, int]:
        try:
            number, offset = (self.directory / "cursor").read_text().split()
            return int(number), int(offset)
        except (OSError, ValueError):
            return 0, 0  # unknown: replay everything
