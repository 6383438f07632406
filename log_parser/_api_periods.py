"""npm's periods and limits as the API applies them, with our extras: ``all-time``, and
ranges longer than npm's 18 months when the store holds data from their first day on.

Strategy: :meth:`Periods.check` reads a period and applies the limits that need no store
(npm's errors, before anything is read); :meth:`Periods.resolve` then gives its days,
reading the store only for ``all-time`` and for a range past npm's limit. The API and the
page both go through it, so they answer the same periods the same way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .core._periods import PeriodError, parse_period
from .store import Store

MAX_DAYS = 548  #: 18 months, npm's limit for one package
MAX_BULK_DAYS = 365
MAX_BULK_PACKAGES = 128
#: The longest range answered at all, when the store holds data for all of it (npm's
#: limit, MAX_DAYS, is kept for ranges that start before the store's first day):
#: ``serve --max-range-days``.
MAX_RANGE_DAYS = 3660
#: Our period beyond npm's: from the first day the store holds for the package (or for
#: any package) to today, today's live count included.
ALL_TIME = "all-time"


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class Periods:
    """Periods read as npm reads them, with our two extras: ``all-time``, and ranges over
    npm's 18 months when the store holds data from their first day on."""

    today: dt.date
    max_range_days: int = MAX_RANGE_DAYS

    def check(self, text: str, bulk: bool) -> tuple[dt.date, dt.date] | None:
        """The period's days, or None for ``all-time`` (whose first day depends on the
        package); npm's error for a bad one, before any store is read. A range past npm's
        limit is checked against the store by :meth:`resolve`."""
        if text == ALL_TIME:
            return None
        start, end = parse_period(text, self.today)
        days = (end - start).days + 1
        if bulk and days > MAX_BULK_DAYS:
            raise PeriodError(f"exceeded max days of {MAX_BULK_DAYS}")
        if days > self.max_range_days:
            raise PeriodError(f"exceeded max days of {self.max_range_days}")
        return start, end

    def resolve(self, text: str, store: Store, package: str | None, bulk: bool = False) -> tuple[dt.date, dt.date]:
        days = self.check(text, bulk)
        if days is None:
            first = store.first_day(package)
            return (self.today if first is None else min(first, self.today)), self.today
        start, end = days
        if (end - start).days + 1 > MAX_DAYS:  # only when the data is there
            first = store.first_day(None)
            if first is None or start < first:
                raise PeriodError(f"exceeded max days of {MAX_DAYS}")
        return start, end
