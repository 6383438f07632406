"""The page's figures from daily counts: weekly totals and the split by version. Pure.

Strategy: weeks are calendar weeks, Monday to Sunday (ISO 8601), named by their Monday;
the first and last may be cut by the range, and say how many of their days it holds, so
a short week is never read as a slow one. The split by version shows the versions with
the most downloads over the range and puts the rest together as ``other``, so that a
package with hundreds of versions still reads in a few lines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Week:
    monday: dt.date
    days: int  #: days of this week inside the range (7 unless cut)
    downloads: int


def weekly_totals(days: Sequence[dt.date], values: Sequence[int]) -> list[Week]:
    """Totals per calendar week of consecutive ``days`` and their ``values``."""
    weeks: dict[dt.date, list[int]] = {}
    for day, value in zip(days, values, strict=True):
        monday = day - dt.timedelta(days=day.weekday())
        counted = weeks.setdefault(monday, [0, 0])
        counted[0] += 1
        counted[1] += value
    return [Week(monday, count, total) for monday, (count, total) in weeks.items()]


@dataclass(frozen=True)
class VersionShare:
    version: str  #: "" for the other versions together
    downloads: int
    percent: float  #: of the range's downloads, 0 when there were none


def version_split(top: Sequence[tuple[str, int]], total: int) -> list[VersionShare]:
    """The top versions (most first) and, when they are not all of ``total``, the rest
    as one share with version ""."""
    shares = [VersionShare(version, n, _percent(n, total)) for version, n in top]
    rest = total - sum(n for _, n in top)
    if rest > 0:
        shares.append(VersionShare("", rest, _percent(rest, total)))
    return shares


def _percent(part: int, total: int) -> float:
    return 100 * part / total if total else 0.0


def totals(daily: Mapping[dt.date, int], days: Sequence[dt.date]) -> list[int]:
    """The value of each day, 0 for a day without counts."""
    return [daily.get(day, 0) for day in days]
