"""One line never stops a run: times, sizes and zones out of range are refused by every
format, by reason, against an independent reference, and the lines beside them counted."""

from __future__ import annotations

import calendar
import datetime as dt
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from log_parser._reading import tally_stream
from log_parser.core import ParseError, Request, Tally
from log_parser.core._bulk import tally_buffer
from log_parser.core._counting import tally_lines
from log_parser.core._records import FIRST_TIME, LAST_TIME, MAX_SIZE
from log_parser.core.formats import CloudFrontParser, CombinedParser, FastlyParser, JsonLinesParser
from log_parser.core.formats._base import MONTH_NAMES
from log_parser.store import to_day_counts

GOOD = '10.0.0.1 - - [01/May/2024:12:00:07 +0000] "GET /a/-/a-1.0.0.tgz HTTP/1.1" 200 5 "-" "npm"'
MAY_1 = dt.date(2024, 5, 1)


def clf_reference(fields: tuple[int, int, int, int, int, int, str, int, int]) -> int | None:
    """Epoch seconds of a %t time, or None where the format's ranges or the store's refuse it."""
    year, month, day, hour, minute, second, sign, zone_hours, zone_minutes = fields
    offset = (zone_hours * 3600 + zone_minutes * 60) * (-1 if sign == "-" else 1)
    if not (1 <= month <= 12 and year >= 1 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return None
    if hour > 23 or minute > 59 or second > 60 or zone_minutes > 59 or not -12 * 3600 <= offset <= 14 * 3600:
        return None
    moment = calendar.timegm((year, month, day, 0, 0, 0)) + hour * 3600 + minute * 60 + second - offset
    return moment if 0 <= moment <= calendar.timegm((9999, 12, 31, 23, 59, 59)) else None


clf_fields = st.tuples(
    st.one_of(st.integers(0, 9999), st.sampled_from([0, 1, 1969, 1970, 9999])),
    st.integers(1, 12),
    st.integers(0, 31),
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 99),
    st.sampled_from("+-"),
    st.integers(0, 99),
    st.integers(0, 99),
)


@settings(max_examples=400)
@given(fields=clf_fields, size=st.one_of(st.integers(0, 10**25), st.sampled_from([MAX_SIZE, MAX_SIZE + 1, 2**64])))
def test_combined_times_and_sizes_against_a_reference(fields, size) -> None:
    year, month, day, hour, minute, second, sign, zone_hours, zone_minutes = fields
    stamp = (
        f"{day:02d}/{MONTH_NAMES[month - 1]}/{year:04d}:{hour:02d}:{minute:02d}:{second:02d} "
        f"{sign}{zone_hours:02d}{zone_minutes:02d}"
    )
    line = f'10.0.0.1 - - [{stamp}] "GET /a/-/a-1.0.0.tgz HTTP/1.1" 200 {size} "-" "npm"'
    expected = clf_reference(fields)
    try:
        request = CombinedParser().parse(line)
    except ParseError:
        request = None
    if expected is None or size > MAX_SIZE:
        assert request is None, line
        return
    assert request is not None, line
    assert (request.time, request.size) == (expected, size)
    # the compiled scanner agrees, and what either counts folds into days without error
    for tally in (tally_buffer(f"{line}\n{GOOD}\n".encode()), _tallied(CombinedParser(), [line, GOOD])):
        assert tally.requests == 2
        assert sum(to_day_counts(tally.downloads.items()).values()) == 2


@pytest.mark.parametrize(
    ("stamp", "reason"),
    [
        ("31/Dec/9999:23:59:59 -1200", "time out of range"),  # the year 10000 in UTC
        ("31/Dec/1969:23:59:59 +0000", "time out of range"),
        ("01/Jan/0001:00:00:00 +1400", "time out of range"),
        ("01/Jan/1970:25:00:00 +0000", "bad time"),
        ("01/Jan/1970:00:75:00 +0000", "bad time"),
        ("01/Jan/2024:00:00:00 +9999", "bad time"),
        ("1/Jan/2024:00:00:00 +0000", "bad time"),
        (
            "01/Jan/2024:00:00:00 +\u0660\u0660\u0660\u0660",
            "bad time",
        ),  # Arabic-Indic digits: int() reads them, the format does not
    ],
)
def test_combined_time_refusals_cost_their_line_only(stamp: str, reason: str) -> None:
    line = f'10.0.0.1 - - [{stamp}] "GET /a/-/a-1.0.0.tgz HTTP/1.1" 200 5 "-" "npm"'
    for tally in (tally_buffer(f"{line}\n{GOOD}\n".encode()), _tallied(CombinedParser(), [line, GOOD])):
        assert (tally.requests, dict(tally.rejected)) == (1, {reason: 1})
        assert to_day_counts(tally.downloads.items()) == {("a", "1.0.0", MAY_1): 1}


json_times = st.one_of(
    st.integers(-(10**21), 10**21),
    st.floats(-1e21, 1e21, allow_nan=False),
    st.sampled_from([1_700_000_000, 1_700_000_000_123, 1_700_000_000_123_456, 1_700_000_000_123_456_789, 10**19]),
    st.integers(0, 10**20).map(str),
    st.builds(
        lambda year, rest, zone: f"{year:04d}{rest}{zone}",
        st.integers(1, 9999),
        st.sampled_from(["-01-01T00:00:00", "-12-31T23:59:59.999999999", "-06-15"]),
        st.sampled_from(["", "Z", "+14:00", "-12:00", "+00:00"]),
    ),
)


def json_reference(value: int | float | str) -> int | None:
    """Seconds of a JSON time by the documented unit rule, or None when out of range."""
    if isinstance(value, str) and not value.isdigit():
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        try:
            seconds = int((moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds() // 1)
        except OverflowError:
            return None
        return seconds if FIRST_TIME <= seconds <= LAST_TIME else None
    number = int(value) if isinstance(value, str) else value
    if number < 0:
        return None
    for limit, per_second in ((10**10, 1), (10**13, 10**3), (10**16, 10**6), (10**19, 10**9)):
        if number < limit:
            seconds = int(number // per_second)
            return seconds if seconds <= LAST_TIME else None
    return None


@settings(max_examples=400)
@given(time=json_times, size=st.one_of(st.integers(-5, 10**25), st.none(), st.just("-")))
def test_json_times_and_sizes_against_a_reference(time, size) -> None:
    line = json.dumps({"time": time, "method": "GET", "url": "/a/-/a-1.0.0.tgz", "status": 200, "bytes": size})
    expected_time = json_reference(time)
    expected_size = 0 if size in (None, "-") else size if 0 <= size <= MAX_SIZE else None
    for parser in (JsonLinesParser(), FastlyParser()):
        text = line if isinstance(parser, JsonLinesParser) else f"<134>2024-05-01T12:00:07Z cache app[1]: {line}"
        try:
            request = parser.parse(text)
        except ParseError:
            request = None
        if expected_time is None or expected_size is None:
            assert request is None, text
            continue
        assert request is not None, text
        assert (request.time, request.size) == (expected_time, expected_size), text
        assert sum(to_day_counts(_tallied(parser, [text]).downloads.items()).values()) == 1


@settings(max_examples=200)
@given(
    year=st.integers(0, 9999),
    size=st.one_of(st.integers(0, 10**25).map(str), st.sampled_from(["-", "²", "١٢", "+5", " 5", ""])),
    status=st.sampled_from(["200", "٢٠٠", "20", "2000", "+200", "abc"]),
)
def test_cloudfront_times_sizes_and_statuses(year, size, status) -> None:
    line = f"{year:04d}-05-01\t12:00:07\tAMS50\t{size}\t10.0.0.1\tGET\th\t/a/-/a-1.0.0.tgz\t{status}\t-\tnpm\t-\t-\tHit"
    try:
        request = CloudFrontParser().parse(line)
    except ParseError:
        request = None
    size_is_good = size == "-" or (size.isascii() and size.isdigit() and int(size) <= MAX_SIZE)
    if year < 1970 or not size_is_good or status != "200":
        assert request is None, line
        return
    assert request is not None, line
    assert (request.status, request.size) == (200, 0 if size == "-" else int(size))


def test_json_epoch_units() -> None:
    """Seconds, milliseconds, microseconds and nanoseconds, told apart by size; a number
    past them all, or a moment past 9999, is refused, never read as a year past 9999."""
    base = int(dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC).timestamp())
    parser = JsonLinesParser()
    for value in (base, base * 1000 + 123, base * 1_000_000 + 123_456, base * 10**9 + 1, f"{base}.250", str(base)):
        line = json.dumps({"time": value, "method": "GET", "url": "/a/-/a-1.0.0.tgz", "status": 200})
        assert parser.parse(line).time == base
    for value, reason in (
        (10**19, "time out of range"),
        (-1, "time out of range"),
        ("9999-12-31T23:59:59-12:00", "time out of range"),
    ):
        with pytest.raises(ParseError, match=reason):
            parser.parse(json.dumps({"time": value, "method": "GET", "url": "/", "status": 200}))


def test_a_parser_that_fails_by_mistake_costs_its_line_only() -> None:
    """A bug in a parser (an error it does not mean to raise) refuses that line, named,
    and the lines beside it are counted."""

    class Fragile(CombinedParser):
        def parse(self, line: str) -> Request | None:
            if "boom" in line:
                raise ZeroDivisionError("a bug")
            return super().parse(line)

    tally = _tallied(Fragile(), [GOOD, "boom", GOOD])
    assert (tally.requests, dict(tally.rejected), tally.total_downloads) == (
        2,
        {"parser failure: ZeroDivisionError": 1},
        2,
    )


def test_a_stream_with_lines_out_of_range_counts_the_others() -> None:
    """The issue's lines, in each format's stream: the good lines beside them all count."""
    streams = {
        "combined": [
            GOOD,
            GOOD.replace("01/May/2024:12:00:07 +0000", "31/Dec/9999:23:59:59 -1200"),
            GOOD.replace(" 5 ", " 99999999999999999999999 "),
        ],
        "json": [
            '{"time": 1714564807, "method": "GET", "url": "/a/-/a-1.0.0.tgz", "status": 200}',
            '{"time": 1700000000123456789012, "method": "GET", "url": "/a/-/a-1.0.0.tgz", "status": 200}',
            '{"time": 1714564807, "method": "GET", "url": "/a/-/a-1.0.0.tgz", "status": 200, "bytes": 99999999999999999999999}',
        ],
    }
    for name, lines in streams.items():
        data = ("\n".join(lines * 20) + "\n").encode()
        tally = tally_stream(io.BytesIO(data), name)
        assert tally.total_downloads == 20, name
        assert sum(tally.rejected.values()) == 40, (name, tally.rejected)
        assert sum(to_day_counts(tally.downloads.items()).values()) == 20


def _tallied(parser: object, lines: list[str]) -> Tally:
    tally = Tally()
    tally_lines(lines, parser, tally)  # type: ignore[arg-type]
    return tally
