"""Human-readable events on the terminal, for development: one line per event, time,
name and value first, coloured when the stream is a terminal (or when told to)."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..config import SinkConfig, SinkOptions
from ..observe import SinkStats
from ..wire import Batch, Event
from ._base import Sink

_RESET, _DIM, _BOLD, _CYAN = "\x1b[0m", "\x1b[2m", "\x1b[1m", "\x1b[36m"
_STATUS_COLOURS = {"ok": "\x1b[32m", "warning": "\x1b[33m", "critical": "\x1b[31m", "unknown": "\x1b[35m"}
_SHOWN_APART = frozenset({"name", "value", "time"})


@dataclass(frozen=True)
class ConsoleOptions(SinkOptions):
    stream: Literal["stdout", "stderr"] = "stdout"
    #: "auto" colours only a terminal.
    colour: Literal["auto", "always", "never"] = "auto"


def format_event(event: Event, colour: bool) -> str:
    """``03:14:17.123 app.latency 30 host=web-1 status=ok``; a summary
    ``03:14:20.000 app.requests kind=counter count=12 rate=1.2``."""
    time = event.get("time")
    try:
        stamp = dt.datetime.fromtimestamp(time / 1000, dt.UTC).strftime("%H:%M:%S.%f")[:-3]  # type: ignore[operator]
    except (TypeError, ValueError, OverflowError, OSError):
        stamp = str(time)
    fields = " ".join(f"{key}={value}" for key, value in event.items() if key not in _SHOWN_APART)
    name = event.get("name")
    # an aggregation's summary has its statistics among the fields, and most have no value
    value = f" {event['value']}" if "value" in event else ""
    if not colour:
        return f"{stamp} {name}{value} {fields}".rstrip()
    status = _STATUS_COLOURS.get(str(event.get("status")), "")
    return f"{_DIM}{stamp}{_RESET} {_CYAN}{name}{_RESET}{status}{_BOLD}{value}{_RESET} {_DIM}{fields}{_RESET}".rstrip()


class ConsoleSink(Sink[ConsoleOptions]):
    kind = "console"
    Options = ConsoleOptions
    batch_events = 1_000

    def __init__(self, config: SinkConfig, stats: SinkStats | None = None, state_dir: Path | None = None) -> None:
        super().__init__(config, stats, state_dir)
        self._stream = sys.stdout if self.options.stream == "stdout" else sys.stderr
        choice = self.options.colour
        self._colour = choice == "always" or (choice == "auto" and self._stream.isatty())

    async def write(self, batch: Batch) -> None:
        colour = self._colour
        self._stream.write("".join(format_event(event, colour) + "\n" for event in batch.events))
        self._stream.flush()
