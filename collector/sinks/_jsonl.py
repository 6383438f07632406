"""Events as newline-delimited JSON in a file, rotated by size.

The lines are the batch's own (each event's line as it arrived, where the decoder kept
it), so a complete numbat event is written byte for byte as sent. The file is written
unbuffered from a worker thread, so every batch reaches the kernel before the next, and
fsynced as often as the options say.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import trio

from ..config import SinkConfig, SinkOptions, require, require_at_most
from ..observe import SinkStats
from ..wire import Batch
from ._base import Sink


@dataclass(frozen=True)
class JsonlOptions(SinkOptions):
    path: str
    #: Rotate once the file would grow past this many bytes (0: never).
    max_bytes: int = 256 * 2**20
    #: Rotated files kept as path.1 (newest) ... path.N.
    keep: int = 5
    #: "always": after every write; "interval": at most every fsync_interval seconds;
    #: "never": leave it to the kernel.
    fsync: Literal["always", "interval", "never"] = "interval"
    fsync_interval: float = 1.0

    def __post_init__(self) -> None:
        require(bool(self.path), "path", "must name a file")
        require(self.max_bytes >= 0, "max_bytes", "must not be negative")
        require(self.keep >= 0, "keep", "must not be negative")
        require_at_most(self.keep, 1_000, "keep")  # every rotation renames them all
        require(self.fsync_interval > 0, "fsync_interval", "must be positive")


class JsonlFile:
    """The blocking part, run in a worker thread: append, rotate, fsync."""

    def __init__(self, options: JsonlOptions) -> None:
        self.options = options
        self.path = Path(options.path)
        self._file: BinaryIO | None = None
        self._size = 0
        self._last_sync = time.monotonic()

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Unbuffered: every batch reaches the kernel at once, so readers and a crash of
        # ours see it; fsync is the separate question of the disk.
        self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115 - held open across writes
        self._size = self._file.tell()

    def write(self, data: bytes) -> None:
        if self._file is None:
            self.open()
        limit = self.options.max_bytes
        if limit and self._size and self._size + len(data) > limit:
            self.rotate()
        assert self._file is not None
        view = memoryview(data)
        while view:
            view = view[self._file.write(view) or 0 :]
        self._size += len(data)
        policy = self.options.fsync
        if policy == "always" or (
            policy == "interval" and time.monotonic() - self._last_sync >= self.options.fsync_interval
        ):
            self.sync()

    def sync(self) -> None:
        if self._file is not None:
            os.fsync(self._file.fileno())
            self._last_sync = time.monotonic()

    def rotate(self) -> None:
        self.close()
        keep = self.options.keep
        if keep == 0:
            self.path.unlink(missing_ok=True)
        else:
            for index in range(keep - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        self.open()

    def close(self) -> None:
        if self._file is not None:
            if self.options.fsync != "never":
                self.sync()
            self._file.close()
            self._file = None


class JsonlSink(Sink[JsonlOptions]):
    kind = "jsonl"
    Options = JsonlOptions
    takes_lines = True  #: it writes batch.json_lines()

    def __init__(self, config: SinkConfig, stats: SinkStats | None = None, state_dir: Path | None = None) -> None:
        super().__init__(config, stats, state_dir)
        self._file = JsonlFile(self.options)

    async def open(self) -> None:
        await trio.to_thread.run_sync(self._file.open)

    async def write(self, batch: Batch) -> None:
        await trio.to_thread.run_sync(self._file.write, batch.json_lines())

    async def close(self) -> None:
        await trio.to_thread.run_sync(self._file.close)
