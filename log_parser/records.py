"""What every log format becomes: one request, as the counting rules need it."""

from __future__ import annotations

from dataclasses import dataclass


class ParseError(ValueError):
    """A line that is not a request of its format; the message is the reason, counted as is."""


@dataclass(frozen=True, slots=True)
class Request:
    time: int  #: seconds since the epoch, UTC
    method: str
    path: str  #: as requested, still percent-encoded, query string included
    status: int
    size: int  #: bytes sent; 0 when the log says "-"
    cache_hit: bool | None = None  #: None when the format does not say
