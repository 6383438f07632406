"""``numbat-logs live``: follow a log as it is written, count downloads per (package,
version, minute), flush them to the downloads store every few seconds, and send the
operational figures through the emitter. SIGTERM or SIGINT: flush what is counted, exit 0."""

from __future__ import annotations

import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import trio

from emitter import Emitter

from .bulk import BulkCounter
from .counting import Tally, tally_lines
from .follow import FileFollower
from .formats import LineParser, detect_format, new_parser
from .formats.detect import NOTHING_TO_TELL
from .store import Store, to_day_counts
from .syslog import SyslogFramer

LineSink = Callable[[list[bytes]], Awaitable[None]]  #: takes lines (or syslog messages), no newline
#: With ``--format auto``: lines held before the format is first guessed, and at most
#: held while it cannot be told (past that they are refused, counted, and guessing goes
#: on with the lines that follow).
DETECT_AFTER, MAX_UNDETECTED = 20, 10_000


@dataclass
class LiveOptions:
    db: str
    format: str = "auto"
    flush_interval: float = 5.0
    poll_interval: float = 0.25
    from_start: bool = False
    emit_uri: str | None = None
    app: str = "numbat-logs"
    json_fields: dict[str, str] = field(default_factory=dict)  #: our field -> the log's key (JSON messages)


class Live:
    """The counting state shared by the sources, flushed on a timer and at the end."""

    def __init__(self, options: LiveOptions) -> None:
        self.options = options
        self.store = Store(options.db)
        self.tally = Tally()
        self.parser: LineParser | None = None
        if options.format != "auto":
            self.parser = new_parser(options.format, options.json_fields)
        self._pending: list[bytes] = []  # lines waiting for format detection
        self._detect_at = DETECT_AFTER  # pending lines at the next try: doubled after each miss
        self._bulk = BulkCounter()
        self.emitter = Emitter(options.emit_uri, app=options.app) if options.emit_uri else None

    async def take(self, lines: list[bytes]) -> None:
        if self.parser is None:
            self._pending += lines
            if len(self._pending) < self._detect_at or not self._detect(final=False):
                return
            lines, self._pending = self._pending, []
        self._count(lines)
        await trio.lowlevel.checkpoint()

    def _detect(self, *, final: bool) -> bool:
        """Choose the parser from the pending lines, if they tell the format. When they
        cannot, and there are too many of them to hold (or none will follow: ``final``),
        they are refused, counted, and dropped; lines that carry no request (blank,
        comments) are dropped quietly."""
        detected = detect_format(_texts(self._pending), self.options.json_fields)
        if detected is not None and detected != NOTHING_TO_TELL:
            self.parser = new_parser(detected, self.options.json_fields)
            return True
        if final or len(self._pending) >= MAX_UNDETECTED:
            if detected is None:
                undetected = sum(bool(line.strip()) and not line.startswith(b"#") for line in self._pending)
                self.tally.rejected["cannot tell the log format"] += undetected
            self._pending = []
        self._detect_at = max(DETECT_AFTER, min(2 * len(self._pending), MAX_UNDETECTED))
        return False

    def _count(self, lines: list[bytes]) -> None:
        """Combined logs through the compiled bulk counter, when no message holds a
        newline of its own (octet-counted syslog may); anything else line by line."""
        assert self.parser is not None
        if self.parser.name == "combined":
            buffer = b"\n".join(lines)
            if buffer.count(b"\n") == len(lines) - 1:
                self._bulk.count(buffer, self.tally)  # the last line needs no newline
                return
        tally_lines(_texts(lines), self.parser, self.tally)

    async def flush(self) -> None:
        if self.parser is None and self._pending and self._detect(final=True):  # few lines: the best guess
            self._count(self._pending)
            self._pending = []
        tally, self.tally = self.tally, Tally()
        if tally.downloads:
            counts = to_day_counts(tally.downloads.items())
            await trio.to_thread.run_sync(self.store.add_live, counts)
        self._emit(tally)

    def _emit(self, tally: Tally) -> None:
        if self.emitter is None:
            return
        metric = self.emitter.metric
        metric("requests", tally.requests)
        metric("downloads", tally.total_downloads)
        metric("bytes", tally.bytes_served)
        metric("rejected", sum(tally.rejected.values()))
        for status_class, count in tally.by_status_class.items():
            metric("requests.by_status", count, status_class=status_class)
        if tally.cache_hit_ratio is not None:
            metric("cache_hit_ratio", tally.cache_hit_ratio)

    async def run(self, source: Callable[[LineSink], Awaitable[None]]) -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._flush_periodically)
                nursery.start_soon(self._read_then_stop, source, nursery.cancel_scope)
                async for _ in signals:
                    break
                nursery.cancel_scope.cancel()
        await self.flush()  # nothing counted is lost on a clean stop
        self.store.close()
        if self.emitter is not None:
            self.emitter.close()

    async def _read_then_stop(self, source: Callable[[LineSink], Awaitable[None]], scope: trio.CancelScope) -> None:
        await source(self.take)
        scope.cancel()  # the input ended (stdin closed)

    async def _flush_periodically(self) -> None:
        while True:
            await trio.sleep(self.options.flush_interval)
            await self.flush()


def follow_file(path: Path, poll_interval: float, from_start: bool) -> Callable[[LineSink], Awaitable[None]]:
    async def source(take: LineSink) -> None:
        follower = FileFollower(path, from_start=from_start)
        try:
            while True:
                lines = await trio.to_thread.run_sync(follower.poll)
                if lines:
                    await take(lines)
                else:
                    await trio.sleep(poll_interval)
        finally:
            follower.close()

    return source


def read_stdin() -> Callable[[LineSink], Awaitable[None]]:
    async def source(take: LineSink) -> None:
        stream = trio.wrap_file(sys.stdin.buffer)
        while line := await stream.readline():
            await take([line.rstrip(b"\n")])

    return source


def syslog_listener(url: str) -> Callable[[LineSink], Awaitable[None]]:
    scheme, _, address = url.partition("://")
    host, _, port_text = address.rpartition(":")
    port = int(port_text)

    async def tcp(take: LineSink) -> None:
        async def handle(stream: trio.SocketStream) -> None:
            framer = SyslogFramer()
            async with stream:
                while data := await stream.receive_some(65536):
                    messages = framer.feed(data)
                    if messages:
                        await take(messages)

        await trio.serve_tcp(handle, port, host=host)

    async def udp(take: LineSink) -> None:
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        await sock.bind((host, port))
        with sock:
            while True:
                data = await sock.recv(65535)
                await take([m for m in data.split(b"\n") if m])

    if scheme not in ("tcp", "udp"):
        raise ValueError(f"syslog listener {url!r}: the scheme must be tcp or udp")
    return tcp if scheme == "tcp" else udp


def _texts(lines: list[bytes]) -> list[str]:
    return [line.decode("utf-8", "replace") for line in lines]
