"""npm's download periods: ``last-day``, ``last-week``, ``last-month``, ``last-year``, a
day ``YYYY-MM-DD`` or a range ``YYYY-MM-DD:YYYY-MM-DD``. Sans-I/O; days are UTC and
``start`` and ``end`` are both included."""

from __future__ import annotations

import datetime as dt

#: The named periods end yesterday (the last whole day), as npm's do.
NAMED = {"last-day": 1, "last-week": 7, "last-month": 30, "last-year": 365}


class PeriodError(ValueError):
    """The message is npm's error text for it."""


def parse_period(text: str, today: dt.date) -> tuple[dt.date, dt.date]:
    days = NAMED.get(text)
    if days is not None:
        end = today - dt.timedelta(days=1)
        return end - dt.timedelta(days=days - 1), end
    first, colon, second = text.partition(":")
    start = _date(first)
    end = _date(second) if colon else start
    if end < start:
        raise PeriodError("end date > start date")
    return start, end


def _date(text: str) -> dt.date:
    if len(text) != 10:
        raise PeriodError("invalid date")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise PeriodError("invalid date") from None


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]
