"""npm's periods: exactly ``YYYY-MM-DD`` days (ASCII digits, a real calendar day), the
named periods and ``start:end`` ranges, compared with a reference written from the
contract alone (string slicing and ``calendar``, never ``datetime``'s parsers)."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from log_parser.core._periods import PeriodError, parse_period

TODAY = dt.date(2026, 12, 2)
NAMED_DAYS = {"last-day": 1, "last-week": 7, "last-month": 30, "last-year": 365}
DIGITS = "0123456789"


def reference_day(text: str) -> tuple[int, int, int] | None:
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None
    if not all(c in DIGITS for c in text[:4] + text[5:7] + text[8:]):
        return None
    year, month, day = int(text[:4]), int(text[5:7]), int(text[8:])
    if year < 1 or not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return year, month, day


def reference_period(text: str) -> tuple[tuple[int, int, int], tuple[int, int, int]] | str:
    """The answer npm gives: (start, end) as (year, month, day), or its error text."""
    if text in NAMED_DAYS:
        end = TODAY.toordinal() - 1
        start = dt.date.fromordinal(end - NAMED_DAYS[text] + 1)
        last = dt.date.fromordinal(end)
        return (start.year, start.month, start.day), (last.year, last.month, last.day)
    parts = text.split(":")
    if len(parts) > 2:
        return "invalid date"
    days = [reference_day(part) for part in parts]
    if None in days:
        return "invalid date"
    first, last = days[0], days[-1]
    assert first is not None
    assert last is not None
    return "end date > start date" if last < first else (first, last)


def ours(text: str) -> tuple[tuple[int, int, int], tuple[int, int, int]] | str:
    try:
        start, end = parse_period(text, TODAY)
    except PeriodError as exc:
        return str(exc)
    return (start.year, start.month, start.day), (end.year, end.month, end.day)


dates = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))
#: Every other way of writing a day that some parser takes: ISO week and ordinal dates,
#: the basic form, datetimes, missing zeros, other separators.
day_forms = st.one_of(
    dates.map(dt.date.isoformat),
    dates.map(lambda d: "{}-W{:02d}-{}".format(*d.isocalendar())),
    dates.map(lambda d: f"{d.year:04d}-{d.timetuple().tm_yday:03d}"),
    dates.map(lambda d: d.strftime("%Y%m%d").zfill(8)),
    dates.map(lambda d: d.isoformat() + "T00:00"),
    dates.map(lambda d: f"{d.year:04d}-{d.month}-{d.day}"),
    dates.map(lambda d: d.isoformat().replace("-", "/")),
    st.tuples(st.integers(0, 9999), st.integers(0, 99), st.integers(0, 99)).map(
        lambda t: f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}"
    ),
    st.text(alphabet=DIGITS + "-:WT Z+\n\u0663\uff12\U0001d7d7", max_size=12),  # Arabic-Indic, fullwidth, bold digits
)
periods = st.one_of(
    st.sampled_from([*NAMED_DAYS, "last-days", "Last-day", "last-day ", "all-time", ""]),
    day_forms,
    st.tuples(day_forms, day_forms).map(":".join),
    st.lists(day_forms, min_size=3, max_size=4).map(":".join),
    st.text(),
)


@given(periods)
@example("2026-W01-1")
@example("2025-12-29:2026-W01-1")
@example("\u0662\u0660\u0662\u0665-\u0661\u0662-\u0662\u0669")
@example("2025-12-29\n")
@example("0000-01-01")
def test_periods_are_what_the_reference_accepts(text: str) -> None:
    assert ours(text) == reference_period(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-W01-1",
        "2026-W01",
        "2025-363",
        "20251229",
        "2025-12-29T00:00",
        "+2025-12-29",
        "\uff12\uff10\uff12\uff15-\uff11\uff12-\uff12\uff19",
    ],
)
def test_forms_pythons_iso_parser_takes_are_invalid_dates(text: str) -> None:
    with pytest.raises(PeriodError, match=r"^invalid date$"):
        parse_period(text, TODAY)


def test_a_day_and_a_range() -> None:
    assert parse_period("2025-12-29", TODAY) == (dt.date(2025, 12, 29), dt.date(2025, 12, 29))
    assert parse_period("2024-02-28:2024-02-29", TODAY) == (dt.date(2024, 2, 28), dt.date(2024, 2, 29))
    assert parse_period("last-week", TODAY) == (dt.date(2026, 11, 25), dt.date(2026, 12, 1))
