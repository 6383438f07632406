"""What a format parser is, and the time formats they share."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod

from ..records import ParseError, Request

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

_day_starts: dict[tuple[str, str], int] = {}


def clf_time(text: str) -> int:
    """``10/Oct/2000:13:55:36 -0700`` (Apache's %t, without brackets) in epoch seconds;
    hour 25, minute 75 or zone +9999 are refused, not carried into the next day.
    Days are cached: a log holds few, and parsing one costs far more than a lookup."""
    try:
        date, hour, minute, rest = text.split(":", 3)
        second, zone = rest.split(" ", 1)
        hours, minutes, seconds = int(hour), int(minute), int(second)
        if not (0 <= hours <= MAX_HOUR and 0 <= minutes <= MAX_MINUTE and 0 <= seconds <= MAX_SECOND):
            raise ParseError("bad time")
        start = _day_starts.get((date, zone))
        if start is None:
            day, month, year = date.split("/")
            zone_minutes = int(zone[3:5])
            offset = int(zone[1:3]) * 3600 + zone_minutes * 60
            offset = -offset if zone[0] == "-" else offset
            if zone_minutes > MAX_MINUTE or not MIN_ZONE <= offset <= MAX_ZONE:
                raise ParseError("bad time")
            start = int(dt.datetime(int(year), MONTHS[month], int(day), tzinfo=dt.UTC).timestamp()) - offset
            if len(_day_starts) < 10_000:
                _day_starts[(date, zone)] = start
        return start + hours * 3600 + minutes * 60 + seconds
    except (ValueError, KeyError, IndexError):
        raise ParseError("bad time") from None


def iso_time(text: str) -> int:
    """An ISO 8601 / RFC 3339 time in epoch seconds (UTC when it names no zone)."""
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ParseError("bad time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())
