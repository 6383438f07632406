"""npm's download periods: ``last-day``, ``last-week``, ``last-month``, ``last-year``, a
day ``YYYY-MM-DD`` or a range ``YYYY-MM-DD:YYYY-MM-DD``. Sans-I/O; days are UTC and
``start`` and ``end`` are both included.

Strategy: a day is read by its shape first (exactly four, two and two ASCII digits
between dashes), then checked against the calendar by ``datetime.date``. Python's
``date.fromisoformat`` is never used: it also takes week dates (``2026-W01-1``), ordinal
and basic forms and non-ASCII digits, which npm answers with ``invalid date``."""

from __future__ import annotations

import datetime as dt
import re

#: The named periods end yesterday (the last whole day): npm's end on the last day its
#: nightly batch has loaded, which is yesterday once that batch has run (see README).
NAMED = {"last-day": 1, "last-week": 7, "last-month": 30, "last-year": 365}

_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)


class PeriodError(ValueError):
    """The message is npm's error text for it."""


def parse_period(text: str, today: dt.date) -> tuple[dt.date, dt.date]:
    days = NAMED.get(text)
    if days is not None:
        end = today - dt.timedelta(days=1)
        return end - dt.timedelta(days=days - 1), end
    first, colon, second = text.partition(":")
    start = parse_day(first)
    end = parse_day(second) if colon else start
    if end < start:
        raise PeriodError("end date > start date")
    return start, end


def parse_day(text: str) -> dt.date:
    """Exactly ``YYYY-MM-DD`` in ASCII digits naming a real calendar day; anything else
    (``2024-02-30``, ``2024-5-9``, ``20240509``, a week date, a time) is npm's
    ``invalid date``."""
    match = _DAY.fullmatch(text)
    if match is None:
        raise PeriodError("invalid date")
    year, month, day = (int(part) for part in match.groups())
    try:
        return dt.date(year, month, day)
    except ValueError:  # month 13, February 30th, year 0
        raise PeriodError("invalid date") from None


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]
