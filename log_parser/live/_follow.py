"""Following a log file as ``tail -F`` does: new lines as they are written, across
rotation (the path now names a new file) and truncation (the file got shorter).

Strategy: blocking and small, called from a worker thread. Each poll reads what was
appended since the last one, keeps a partial last line for the next, then compares the
path's inode with the open file's: another inode is a rotation (the old file is read to
its end, then the new one from its start), a size below the read position a truncation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO


class FileFollower:
    def __init__(self, path: str | Path, *, from_start: bool = False) -> None:
        self.path = Path(path)
        self._from_start = from_start
        self._file: BinaryIO | None = None
        self._inode: tuple[int, int] | None = None
        self._partial = b""

    def poll(self) -> list[bytes]:
        """Complete lines written since the last poll (without newlines)."""
        if self._file is None and not self._open(at_end=not self._from_start):
            return []
        assert self._file is not None
        lines = self._read_lines()
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            return lines  # rotated away, the new file not there yet: keep reading the old one
        if (current.st_dev, current.st_ino) != self._inode:
            lines += self._read_lines(final=True)  # the rest of the rotated file
            self._file.close()
            self._file = None
            if self._open(at_end=False):
                lines += self._read_lines()
        elif current.st_size < self._file.tell():
            self._file.seek(0)  # truncated in place (copytruncate)
            self._partial = b""
            lines += self._read_lines()
        return lines

    def _open(self, *, at_end: bool) -> bool:
        try:
            self._file = open(self.path, "rb")  # noqa: SIM115 - held across polls
        except FileNotFoundError:
            return False
        stat = os.fstat(self._file.fileno())
        self._inode = (stat.st_dev, stat.st_ino)
        if at_end:
            self._file.seek(0, os.SEEK_END)
        self._from_start = True  # every file after the first is read whole
        return True

    def _read_lines(self, final: bool = False) -> list[bytes]:
        assert self._file is not None
        data = self._partial + self._file.read()
        lines = data.split(b"\n")
        self._partial = lines.pop()
        if final and self._partial:
            lines.append(self._partial)
            self._partial = b""
        return lines

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
