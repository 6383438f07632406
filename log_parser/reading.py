"""Reading log files: compressed ones (gzip, bzip2, zstd, xz) transparently and as far as
they can be read, lines parsed by a format, tallied."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO

from .bulk import BulkCounter
from .counting import Tally, tally_lines
from .decompress import MAGIC_BYTES, DecompressingReader, detect
from .formats import PARSERS, LineParser, detect_format
from .records import ParseError

CHUNK_BYTES = 8 << 20
#: The buffer in front of a decompressor: the line reads of the text formats ask 8 KiB at a
#: time, and zlib would copy its unconsumed input at each of them.
DECOMPRESSED_BUFFER = 1 << 20
HEAD_LINES = 50  #: lines that decide the format


def open_log_bytes(source: BinaryIO) -> io.BufferedReader[Any]:
    """The bytes of a log stream, decompressed when it starts with the magic bytes of
    gzip, bzip2, zstd or xz; then its ``raw`` is the :class:`DecompressingReader`, which
    names the compression and, once read to the end, any damage."""
    buffered = source if isinstance(source, io.BufferedReader) else io.BufferedReader(source)  # type: ignore[type-var]
    compression = detect(buffered.peek(MAGIC_BYTES)[:MAGIC_BYTES])
    if compression is None:
        return buffered
    return io.BufferedReader(DecompressingReader(buffered, compression), DECOMPRESSED_BUFFER)


def parser_for(format_name: str, first_lines: Iterable[str]) -> LineParser:
    if format_name == "auto":
        detected = detect_format(first_lines)
        if detected is None:
            raise ParseError("cannot tell the log format from its first lines; name it with --format")
        format_name = detected
    return PARSERS[format_name]()


def tally_file(path: Path, format_name: str = "auto", rejects: IO[str] | None = None) -> Tally:
    """Every line of one (possibly compressed) log file, tallied."""
    with open(path, "rb") as raw:
        return tally_stream(raw, format_name, rejects)


def tally_stream(raw: BinaryIO, format_name: str = "auto", rejects: IO[str] | None = None) -> Tally:
    """Every line of one (possibly compressed) log stream, tallied, a bounded chunk at a
    time. Combined logs go through the bulk counter, as bytes.

    A damaged compressed stream is counted as far as it can be read, and the tally names
    the damage: its whole lines count, and a last line cut short is judged by the parser
    as any line is (it is usually refused). One damaged before its first byte is an empty
    tally that names the damage: there is no line to tell the format by, and none to count."""
    tally = Tally()
    with open_log_bytes(raw) as data:
        decompressing = data.raw if isinstance(data.raw, DecompressingReader) else None
        head = b"".join(line for line in (data.readline() for _ in range(HEAD_LINES)) if line)
        damaged_early = decompressing is not None and decompressing.damage is not None  # it ended already
        if head or not damaged_early:
            try:
                _tally_data(data, head, format_name, tally, rejects)
            except ParseError as exc:  # the format: can it be told from the first lines
                if decompressing is not None and decompressing.damage:  # the stream ended within them, damaged
                    raise ParseError(f"{exc} ({decompressing.damage})") from None
                raise
        if decompressing is not None:
            tally.compression, tally.damage = decompressing.compression, decompressing.damage
    return tally


def _tally_data(data: BinaryIO, head: bytes, format_name: str, tally: Tally, rejects: IO[str] | None) -> None:
    """``head`` (the first lines) and the rest of ``data``, in the format they show."""
    head_lines = _text(head).readlines()
    parser = parser_for(format_name, head_lines)
    if parser.name == "combined":
        counter = BulkCounter(rejects=rejects)
        counter.count(head, tally)
        while chunk := data.read(CHUNK_BYTES):
            chunk += data.readline()  # whole lines only
            counter.count(chunk, tally)
    else:
        tally_lines(head_lines, parser, tally, rejects)
        tally_lines(_text(data), parser, tally, rejects)


def _text(data: bytes | BinaryIO) -> TextIO:
    return io.TextIOWrapper(io.BytesIO(data) if isinstance(data, bytes) else data, encoding="utf-8", errors="replace")


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
