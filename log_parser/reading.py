"""Reading log files: gzip transparently, lines parsed by a format, tallied."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO

from .bulk import tally_buffer
from .counting import Tally, tally_lines
from .formats import PARSERS, LineParser, detect_format
from .records import ParseError

GZIP_MAGIC = b"\x1f\x8b"
CHUNK_CHARACTERS = 8 << 20


def open_log(source: BinaryIO) -> TextIO:
    """Text lines of a log stream, gunzipped when it starts with gzip's magic bytes."""
    buffered = source if isinstance(source, io.BufferedReader) else io.BufferedReader(source)  # type: ignore[type-var]
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        return io.TextIOWrapper(gzip.GzipFile(fileobj=buffered), encoding="utf-8", errors="replace")
    return io.TextIOWrapper(buffered, encoding="utf-8", errors="replace")


def parser_for(format_name: str, first_lines: Iterable[str]) -> LineParser:
    if format_name == "auto":
        detected = detect_format(first_lines)
        if detected is None:
            raise ParseError("cannot tell the log format from its first lines; name it with --format")
        format_name = detected
    return PARSERS[format_name]()


def tally_file(path: Path, format_name: str = "auto", rejects: IO[str] | None = None) -> Tally:
    """Every line of one (possibly gzipped) log file, tallied."""
    with open(path, "rb") as raw:
        return tally_stream(raw, format_name, rejects)


def tally_stream(raw: BinaryIO, format_name: str = "auto", rejects: IO[str] | None = None) -> Tally:
    """Every line of one (possibly gzipped) log stream, tallied, a bounded chunk at a
    time. Combined logs, unless their rejected lines are wanted one by one, go through
    the bulk counter."""
    tally = Tally()
    with open_log(raw) as text:
        head = list(_take(text, 50))
        parser = parser_for(format_name, head)
        if parser.name == "combined" and rejects is None:
            tally_buffer("".join(head).encode(), tally)
            while chunk := text.read(CHUNK_CHARACTERS):
                chunk += text.readline()  # whole lines only
                tally_buffer(chunk.encode(), tally)
            return tally
        tally_lines(head, parser, tally, rejects)
        tally_lines(text, parser, tally, rejects)
    return tally


class ChunkReader(io.RawIOBase):
    """A readable binary stream over an iterator of byte chunks (such as libcloud's
    ``download_object_as_stream``), holding one chunk at a time."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        self.bytes_read += size
        return size


def _take(lines: Iterator[str] | TextIO, count: int) -> Iterator[str]:
    for _ in range(count):
        line = next(lines, None)
        if line is None:
            return
        yield line
