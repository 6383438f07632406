"""What every log format becomes: one request, as the counting rules need it, and the
ranges a request's numbers must fall in.

The ranges are what the rest of the pipeline can represent: the store names days from
1970 to 9999 (Python's dates end there), and sizes are summed in 64-bit integers (the
scanner's two words, SQLite, JSON summaries). A parser refuses a line outside them
with its reason, so no later stage ever meets such a value and one line can never stop
a run.
"""

from __future__ import annotations

from dataclasses import dataclass


class ParseError(ValueError):
    """A line that is not a request of its format; the message is the reason, counted as is."""


#: The first and last second a request may carry: 1970-01-01T00:00:00Z and
#: 9999-12-31T23:59:59Z. Before the epoch no CDN wrote logs; after 9999 no date exists.
FIRST_TIME, LAST_TIME = 0, 253_402_300_799
#: The largest response size taken: just under a petabyte, so that even billions of
#: them sum within 64 bits; a larger one is a corrupt field, not a response.
MAX_SIZE = 10**15 - 1


def checked_time(seconds: int) -> int:
    """``seconds``, or ParseError("time out of range") outside FIRST_TIME..LAST_TIME."""
    if not FIRST_TIME <= seconds <= LAST_TIME:
        raise ParseError("time out of range")
    return seconds


#: More digits than any status or size has: refused before int() spends time on them.
_MAX_DIGITS = 18


def number_in_digits(text: str, what: str) -> int:
    """A whole number written in ASCII digits, the grammar every format's numbers share
    (``int()`` would also take other scripts' digits, signs and spaces): ParseError
    naming ``what`` otherwise, and ``out of range`` past eighteen digits."""
    if not (text.isascii() and text.isdigit()):
        raise ParseError(f"{what} is not a number")
    if len(text) > _MAX_DIGITS:
        raise ParseError(f"{what} out of range")
    return int(text)


def checked_size(size: int) -> int:
    """``size``, or ParseError("size out of range") outside 0..MAX_SIZE."""
    if not 0 <= size <= MAX_SIZE:
        raise ParseError("size out of range")
    return size


@dataclass(frozen=True, slots=True)
class Request:
    time: int  #: seconds since the epoch, UTC, within FIRST_TIME..LAST_TIME
    method: str
    path: str  #: as requested, still percent-encoded, query string included
    status: int
    size: int  #: bytes sent, within 0..MAX_SIZE; 0 when the log says "-"
    cache_hit: bool | None = None  #: None when the format does not say
