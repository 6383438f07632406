"""What a format parser is, and the time formats they share.

Strategy: a parser is one method, a line in and a request (or None, or ParseError with
the reason) out, so that every format is counted by the same loop. Times are read to
epoch seconds here once for all formats: Apache's ``%t`` by one expression, the epoch
second each (day, zone) began cached, since a log holds few days; ISO 8601 by
``datetime``. Both refuse a moment the store cannot name.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from abc import ABC, abstractmethod

from .._records import ParseError, Request, checked_time

MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTHS = {name: number for number, name in enumerate(MONTH_NAMES, 1)}


class LineParser(ABC):
    """One line at a time. ``parse`` returns a request, or None for a line that carries
    none by design (a header, a comment, a blank); it raises ParseError otherwise."""

    name: str

    @abstractmethod
    def parse(self, line: str) -> Request | None: ...


#: The ranges the combined format's %t implies: a leap second allowed, zones as real
#: servers write them (UTC-12:00 to UTC+14:00, whole minutes below 60).
MAX_HOUR, MAX_MINUTE, MAX_SECOND = 23, 59, 60
MIN_ZONE, MAX_ZONE = -12 * 3600, 14 * 3600

#: Apache's %t exactly: two-digit day, month name, four-digit year, two-digit fields,
#: a signed four-digit zone (ASCII digits only: int() would read other scripts' too).
_CLF_TIME = re.compile(r"(\d\d/[A-Z][a-z]{2}/\d{4}):(\d\d):(\d\d):(\d\d) ([+-]\d{4})", re.ASCII)
_day_starts: dict[tuple[str, str], int] = {}


def clf_time(text: str) -> int:
    """``10/Oct/2000:13:55:36 -0700`` (Apache's %t, without brackets) in epoch seconds;
    hour 25, minute 75 or zone +9999 are refused, not carried into the next day, and so
    is a moment outside the range the store can name (``31/Dec/9999:23:59:59 -1200``).
    Days are cached: a log holds few, and parsing one costs far more than a lookup."""
    match = _CLF_TIME.fullmatch(text)
    if match is None:
        raise ParseError("bad time")
    date, hour, minute, second, zone = match.groups()
    hours, minutes, seconds = int(hour), int(minute), int(second)
    if not (hours <= MAX_HOUR and minutes <= MAX_MINUTE and seconds <= MAX_SECOND):
        raise ParseError("bad time")
    start = _day_starts.get((date, zone))
    if start is None:
        start = _day_start(date, zone)
        if len(_day_starts) < 10_000:
            _day_starts[(date, zone)] = start
    moment = start + hours * 3600 + minutes * 60 + seconds
    return checked_time(moment)


def _day_start(date: str, zone: str) -> int:
    """The epoch second at which ``DD/Mon/YYYY`` began in ``zone`` (``+hhmm``)."""
    day, month, year = date.split("/")
    zone_minutes = int(zone[3:5])
    offset = int(zone[1:3]) * 3600 + zone_minutes * 60
    offset = -offset if zone[0] == "-" else offset
    if zone_minutes > MAX_MINUTE or not MIN_ZONE <= offset <= MAX_ZONE or month not in MONTHS:
        raise ParseError("bad time")
    try:
        midnight = dt.datetime(int(year), MONTHS[month], int(day), tzinfo=dt.UTC)
    except ValueError:  # 31/Feb, year 0
        raise ParseError("bad time") from None
    return int(midnight.timestamp()) - offset


def iso_time(text: str) -> int:
    """An ISO 8601 / RFC 3339 time in epoch seconds (UTC when it names no zone), within
    the range the store can name."""
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ParseError("bad time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        seconds = moment.timestamp()
    except OverflowError:  # year 1 at +14:00 is before the first day Python can name
        raise ParseError("time out of range") from None
    return checked_time(math.floor(seconds))
