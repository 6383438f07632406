"""numbatd's own log: JSON to stderr, one object per line, and a rate limit for what input can flood.

Every message is the logger ``numbatd``'s, its fields in ``extra``, so an operator's
tools filter by key rather than parse sentences. A message that a sender can provoke
at will (a rejected line, a refused connection) goes through a :class:`FloodGate`:
a few per second per kind, the rest counted and reported with the next one let through.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

log = logging.getLogger("numbatd")

_STANDARD = frozenset(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    """``{"time": ..., "level": ..., "logger": ..., "message": ..., **extra}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update((key, value) for key, value in vars(record).items() if key not in _STANDARD)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


JsonFormatter.converter = time.gmtime


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("hypercorn.error", "hypercorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class FloodGate:
    """At most ``rate`` messages per second per kind; what it holds back is counted and
    reported with the next message of that kind that gets through."""

    def __init__(self, rate: float, clock: Any = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._windows: dict[str, tuple[float, int, int]] = {}  # kind -> (window start, sent, suppressed)

    def warning(self, kind: str, message: str, **fields: Any) -> None:
        now = self._clock()
        start, sent, suppressed = self._windows.get(kind, (now, 0, 0))
        if now - start >= 1.0:
            start, sent = now, 0
        if sent >= self.rate:
            self._windows[kind] = (start, sent, suppressed + 1)
            return
        if suppressed:
            fields["suppressed"] = suppressed
        log.warning(message, extra={"kind": kind, **fields})
        self._windows[kind] = (start, sent + 1, 0)
