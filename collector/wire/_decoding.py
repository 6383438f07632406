"""What every decoder does, and the helpers they share.

The text formats share one number grammar, ASCII only: an optional sign, digits with an
optional fraction (or a fraction alone), an optional exponent. Python's ``int`` and
``float`` read more than that (``1_000``, Arabic-Indic digits, ``inf``, whitespace), so
a text is matched against the grammar before Python converts it. Numbers and times are
also checked against what every sink can carry, so no sink meets one it cannot write.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable

from emitter.event import Event

from ._batch import TIME_RANGE_MS, Batch

#: Timestamp precisions (InfluxDB's names, 1.x's and 2.x's) as (multiply, divide) to get ms.
TO_MS: dict[str, tuple[int, int]] = {
    "ns": (1, 1_000_000),
    "n": (1, 1_000_000),
    "us": (1, 1_000),
    "u": (1, 1_000),
    "ms": (1, 1),
    "s": (1_000, 1),
    "m": (60_000, 1),
    "h": (3_600_000, 1),
}


class DecodeError(ValueError):
    """A line that cannot become an event; the message is the reason, counted as is."""


class Decoder(ABC):
    """Turns lines of one format into events, collected into a :class:`Batch`.

    A malformed line becomes a rejection with a short, stable reason; the lines
    around it are decoded as if it were not there. No input may raise out of here.
    """

    format: str

    @abstractmethod
    def decode(self, lines: Iterable[bytes], now_ms: int, batch: Batch) -> None: ...

    def decode_payload(self, payload: bytes, now_ms: int, batch: Batch) -> None:
        """A datagram or an HTTP body: one or more lines."""
        self.decode(payload.split(b"\n"), now_ms, batch)


class TextLineDecoder(Decoder):
    """A format read line by line as text: the shared loop, blank lines and rejections."""

    #: Lines starting with this are comments.
    comment: bytes | None = None

    def decode(self, lines: Iterable[bytes], now_ms: int, batch: Batch) -> None:
        for line in lines:
            text = line.strip()
            if not text or (self.comment is not None and text.startswith(self.comment)):
                continue
            try:
                events = self.parse_line(text.decode(), now_ms)
            except UnicodeDecodeError:
                batch.reject("not UTF-8", line)
                continue
            except DecodeError as exc:
                batch.reject(str(exc), line)
                continue
            for event in events:
                batch.add(event)

    @abstractmethod
    def parse_line(self, line: str, now_ms: int) -> list[Event]:
        """The events of one stripped, non-empty line; DecodeError saying why not."""


#: The number grammar of the text formats (statsd, Graphite, line protocol floats).
DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
#: Integers kept as integers: every sink writes an int64 exactly.
INT64 = (-(2**63), 2**63 - 1)


def parse_number(text: str, what: str = "value") -> int | float:
    """An int when it is written as one and fits in 64 bits, else a finite float, as
    Etsy statsd and carbon read every number; DecodeError otherwise."""
    if _INTEGER.fullmatch(text):
        number = int(text)
        if INT64[0] <= number <= INT64[1]:
            return number
    elif not DECIMAL.fullmatch(text):
        raise DecodeError(f"{what} is not a number")
    try:
        real = float(text)
    except OverflowError:  # an integer past float64
        real = math.inf
    if not math.isfinite(real):
        raise DecodeError(f"{what} is not finite")
    return real


def checked_time(ms: int) -> int:
    """``ms`` if every store can hold that time; DecodeError otherwise."""
    if not TIME_RANGE_MS[0] <= ms <= TIME_RANGE_MS[1]:
        raise DecodeError("time out of range")
    return ms


def seconds_to_ms(text: str) -> int:
    """A timestamp in seconds (statsd's ``|T``, Graphite's third field) in ms."""
    return checked_time(round(parse_number(text, "time") * 1000))


def iso_to_ms(text: str) -> int:
    """An RFC 3339 time, as a JavaScript Date serializes, in ms since the epoch."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise DecodeError("time is neither ms since the epoch nor an ISO 8601 date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return checked_time(round(moment.timestamp() * 1000))
