"""Reading a log file or stream to its end and tallying it: the I/O shell around the core's
decompressor and counters, for ``count`` and the backfill's workers.

Strategy: a stream is decompressed when its first bytes are the magic bytes of gzip,
bzip2, zstd or xz (:class:`DecompressingReader`, over the core's sans-I/O Decompressor),
and read a bounded chunk of whole lines at a time: memory follows the chunk size, not the
log's. The first lines (the head) decide the format when it is ``auto``; then the head
and every chunk after it go, as bytes, to the counter :func:`~log_parser.core.counter_for`
gives for that format. Given more than one thread (``numbat-logs count``: one per core),
combined logs are scanned that many chunks at a time, side by side, and finished here in
order (see :mod:`log_parser.core._counter`).
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import IO, Any, BinaryIO

from .core import ParseError, Tally, counter_for, detect_format
from .core._counter import FormatCounter, SplitCounter
from .core._counting import MINUTE
from .core._decompress import MAGIC_BYTES, Compression, Decompressor, detect
from .core._memory import CounterMemory
from .core.formats import NOTHING_TO_TELL

#: Bytes of whole lines counted at a time.
CHUNK_BYTES = 8 << 20
#: Compressed bytes read from the source at a time.
INPUT_BYTES = 64 << 10
#: The buffer in front of a decompressor: the head is read a line at a time, and each
#: chunk ends with a line read; zlib would copy its unconsumed input at each small read.
DECOMPRESSED_BUFFER = 1 << 20
HEAD_LINES = 50  #: lines (not blank, not comments) that decide the format
HEAD_BYTES = 1 << 20  #: at most this much is read to decide it


def open_log_bytes(source: BinaryIO) -> io.BufferedReader[Any]:
    """The bytes of a log stream, decompressed when it starts with the magic bytes of
    gzip, bzip2, zstd or xz; then its ``raw`` is the :class:`DecompressingReader`, which
    names the compression and, once read to the end, any damage."""
    buffered = source if isinstance(source, io.BufferedReader) else io.BufferedReader(source)  # type: ignore[type-var]
    compression = detect(buffered.peek(MAGIC_BYTES)[:MAGIC_BYTES])
    if compression is None:
        return buffered
    return io.BufferedReader(DecompressingReader(buffered, compression), DECOMPRESSED_BUFFER)


def tally_file(
    path: Path,
    format_name: str = "auto",
    rejects: IO[str] | None = None,
    json_fields: Mapping[str, str] | None = None,
    *,
    threads: int = 1,
    resolution: int = MINUTE,
) -> Tally:
    """Every line of one (possibly compressed) log file, tallied (combined logs scanned in
    ``threads`` threads side by side: see :func:`~log_parser.core.counter_for`), its
    downloads counted per ``resolution`` seconds (see :class:`~log_parser.core.Tally`)."""
    with open(path, "rb") as raw:
        return tally_stream(raw, format_name, rejects, json_fields, threads=threads, resolution=resolution)


def tally_stream(
    raw: BinaryIO,
    format_name: str = "auto",
    rejects: IO[str] | None = None,
    json_fields: Mapping[str, str] | None = None,
    *,
    threads: int = 1,
    resolution: int = MINUTE,
    memory: CounterMemory | None = None,
) -> Tally:
    """Every line of one (possibly compressed) log stream, tallied, a bounded chunk at a
    time. Lines end at LF alone (a CR before it is dropped by the parsers; one anywhere
    else is part of the line, as in a user agent).

    A log without a single request line (empty, blank, comments) counts nothing and is
    no error: its tally's format is ``none``. A damaged compressed stream is counted as
    far as it can be read, and the tally names the damage: its whole lines count, and a
    last line cut short is judged by the parser as any line is (it is usually refused).
    One damaged before its first byte is an empty tally that names the damage."""
    tally = Tally(resolution=resolution)
    with open_log_bytes(raw) as data:
        decompressing = data.raw if isinstance(data.raw, DecompressingReader) else None
        try:
            _tally_data(data, format_name, tally, rejects, json_fields, threads=threads, memory=memory)
        except ParseError as exc:  # the format: can it be told from the first lines
            if decompressing is not None and decompressing.damage:  # the stream ended within them, damaged
                raise ParseError(f"{exc} ({decompressing.damage})") from None
            raise
        if decompressing is not None:
            tally.compression, tally.damage = decompressing.compression, decompressing.damage
    return tally


def _tally_data(
    data: BinaryIO,
    format_name: str,
    tally: Tally,
    rejects: IO[str] | None,
    json_fields: Mapping[str, str] | None,
    *,
    threads: int,
    memory: CounterMemory | None,
) -> None:
    """Every line of ``data``, in the format its first lines show (or ``format_name``)."""
    head, ended = _read_head(data)
    if format_name == "auto":
        detected = detect_format(_text_lines(head), json_fields)
        if detected is None:
            raise ParseError("cannot tell the log format from its first lines; name it with --format")
        if detected == NOTHING_TO_TELL:
            if not ended:
                raise ParseError(f"only blank lines and comments in the first {HEAD_BYTES:,} bytes; name the format")
            tally.format = NOTHING_TO_TELL
            return
        format_name = detected
    counter = counter_for(format_name, json_fields, rejects, memory)
    tally.format = counter.format
    if not ended and not head.endswith(b"\n"):
        head += data.readline()  # the head's limit fell inside a line: the line, whole
    counter.count(head, tally)
    _count_chunks(counter, _chunks(data), tally, threads)


def _count_chunks(counter: FormatCounter, chunks: Iterator[bytes], tally: Tally, threads: int) -> None:
    """Every chunk, in order. Those the counter splits (the compiled scanner's) are scanned
    in up to ``threads`` threads at once (the scan holds no lock) and finished in this one,
    in order, the downloads held until the last: at most ``threads + 1`` chunks are held."""
    pending: deque[tuple[bytes, Future[Any]]] = deque()
    split: SplitCounter | None = None
    with ThreadPoolExecutor(threads, thread_name_prefix="numbat-logs-scan") if threads > 1 else nullcontext() as pool:
        for chunk in chunks:
            split = counter.split_for(chunk)
            if split is None:
                counter.count(chunk, tally)
            elif pool is None:
                split.finish(chunk, split.scan(chunk), tally)
            else:
                pending.append((chunk, pool.submit(split.scan, chunk)))
                if len(pending) > threads:
                    done, scanned = pending.popleft()
                    split.finish(done, scanned.result(), tally)
        while pending and split is not None:
            done, scanned = pending.popleft()
            split.finish(done, scanned.result(), tally)
    if split is not None:
        split.flush()


def _chunks(data: BinaryIO) -> Iterator[bytes]:
    """The rest of ``data``, CHUNK_BYTES of whole lines at a time."""
    while chunk := data.read(CHUNK_BYTES):
        chunk += data.readline()  # whole lines only
        yield chunk


def _read_head(data: BinaryIO) -> tuple[bytes, bool]:
    """The first lines of a stream, up to HEAD_LINES that may be requests or HEAD_BYTES
    in all, and whether the stream ended within them."""
    lines: list[bytes] = []
    size = found = 0
    while found < HEAD_LINES and size < HEAD_BYTES:
        line = data.readline(HEAD_BYTES - size)
        if not line:
            return b"".join(lines), True
        lines.append(line)
        size += len(line)
        stripped = line.strip()
        found += bool(stripped) and not stripped.startswith(b"#")
    return b"".join(lines), False


def _text_lines(data: bytes) -> list[str]:
    """Text lines that end at LF only: universal newlines would split a line at a bare CR."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace", newline="\n").readlines()


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


class DecompressingReader(io.RawIOBase):
    """The decompressed bytes of a compressed binary stream, as far as they go. The source
    is read to its end, past any damage; ``damage`` names it once the end is reached."""

    def __init__(self, source: BinaryIO, compression: Compression) -> None:
        self._source = source
        self._decompressor = Decompressor(compression)
        self._ended = False

    @property
    def compression(self) -> str:
        return self._decompressor.compression.name

    @property
    def damage(self) -> str | None:
        """What was wrong with the stream; None while it is being read."""
        return self._decompressor.damage

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with memoryview(buffer) as view:
            if not view:
                return 0
            while True:
                out = self._decompressor.read(len(view))
                if out:
                    view[: len(out)] = out
                    return len(out)
                if self._ended:
                    return 0
                data = self._source.read(INPUT_BYTES)
                if data:
                    self._decompressor.feed(data)
                else:
                    self._ended = True
                    self._decompressor.finish()
