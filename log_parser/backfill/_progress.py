"""A one-line progress bar for a backfill, on a terminal only.

Our own rather than tqdm's: the figures wanted (objects, lines, lines/s, an ETA from the
bytes still to read, since objects differ in size) are a few lines of formatting, and a
dependency plus its type stubs for them would not pay. :func:`render` is pure.
"""

from __future__ import annotations

import time
from typing import Protocol, TextIO

from ._worker import ObjectResult

#: Seconds between redraws: often enough to look alive, rarely enough to cost nothing.
REDRAW_INTERVAL = 0.25
BAR_WIDTH = 24


class ProgressDisplay(Protocol):
    """What the shell tells of its progress, as objects finish."""

    def start(self, objects: int, total_bytes: int) -> None: ...

    def advance(self, result: ObjectResult) -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    """Off the terminal, or with --no-progress: nothing shown."""

    def start(self, objects: int, total_bytes: int) -> None:
        pass

    def advance(self, result: ObjectResult) -> None:
        pass

    def finish(self) -> None:
        pass


def render(done: int, total: int, *, failed: int, lines: int, elapsed: float, bytes_done: int, bytes_total: int) -> str:
    """``[#####-----] 12/40 objects  3,456,789 lines  1,234,567 lines/s  ETA 0:01:05``"""
    fraction = bytes_done / bytes_total if bytes_total else (done / total if total else 1.0)
    filled = round(BAR_WIDTH * min(fraction, 1.0))
    rate = lines / elapsed if elapsed > 0 else 0.0
    eta = _clock(elapsed * (1 - fraction) / fraction) if fraction > 0 and elapsed > 0 else "?"
    failures = f"  {failed} failed" if failed else ""
    return (
        f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total} objects{failures}  "
        f"{lines:,} lines  {rate:,.0f} lines/s  ETA {eta}"
    )


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02}:{whole % 60:02}"


class TerminalProgress:
    """Redraws :func:`render` in place on ``stream`` (a terminal)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.total = self.done = self.failed = self.lines = self.bytes_done = self.bytes_total = 0
        self.started = self.drawn = 0.0

    def start(self, objects: int, total_bytes: int) -> None:
        self.total, self.bytes_total = objects, total_bytes
        self.started = time.monotonic()
        self._draw()

    def advance(self, result: ObjectResult) -> None:
        self.done += 1
        self.failed += result.error is not None
        self.lines += result.lines
        self.bytes_done += result.record.size
        if time.monotonic() - self.drawn >= REDRAW_INTERVAL:
            self._draw()

    def finish(self) -> None:
        self._draw()
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self) -> None:
        self.drawn = time.monotonic()
        line = render(
            self.done,
            self.total,
            failed=self.failed,
            lines=self.lines,
            elapsed=self.drawn - self.started,
            bytes_done=self.bytes_done,
            bytes_total=self.bytes_total,
        )
        self.stream.write(f"\r{line}\x1b[K")
        self.stream.flush()
