"""The bulk counter counts what the line parser counts."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import given
from hypothesis import strategies as st

from log_parser.bulk import BulkCounter, tally_buffer
from log_parser.counting import Tally, tally_lines
from log_parser.formats import CombinedParser

paths = st.sampled_from(
    [
        "/lodash/-/lodash-4.17.21.tgz",
        "/lodash/-/lodash-4.17.21.tgz?cache=1",
        "/@babel/core/-/core-7.24.0.tgz",
        "/@babel%2fcore/-/core-7.24.0.tgz",
        "/is-number/-/is-number-7.0.0.tgz",
        "/is-number/-/is-7.0.0.tgz",
        "/lodash",
        "/lodash/-/lodash-latest.tgz",
    ]
)
valid_lines = st.builds(
    lambda minute, zone, method, path, status, size, agent: (
        f"10.0.0.1 - - [{(dt.datetime(2024, 5, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=minute)).strftime('%d/%b/%Y:%H:%M:%S')} {zone}] "
        f'"{method} {path} HTTP/1.1" {status} {size} "-" "{agent}"'
    ),
    st.integers(0, 3000),
    st.sampled_from(["+0000", "-0700", "+0530"]),
    st.sampled_from(["GET", "GET", "HEAD", "POST"]),
    paths,
    st.sampled_from([200, 200, 304, 404, 206, 500]),
    st.one_of(st.integers(0, 10**7).map(str), st.just("-"), st.sampled_from(["007", "00"])),  # int() reads 007
    st.sampled_from(["npm/10", "Mozilla/5.0 (X11; Linux)", "-"]),
)
garbage = st.text(st.characters(blacklist_characters='\n"', blacklist_categories=("Cs",)), max_size=60)
# A download whose time does not parse (the bulk counter checks the time of downloads only)
bad_dates = st.builds(
    lambda path: f'10.0.0.1 - - [31/Foo/2024:12:00:07 +0000] "GET {path} HTTP/1.1" 200 5 "-" "npm"',
    paths.filter(lambda p: ".tgz" in p),
)


def by_the_parser(text: str) -> Tally:
    tally = Tally()
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    tally_lines(lines, CombinedParser(), tally)
    return tally


def same(a: Tally, b: Tally) -> None:
    assert a.downloads == b.downloads
    assert (a.requests, a.by_status_class, a.bytes_served, a.rejected) == (
        b.requests,
        b.by_status_class,
        b.bytes_served,
        b.rejected,
    )


@given(st.lists(valid_lines, max_size=60))
def test_well_formed_logs_count_as_the_parser_counts(lines) -> None:
    text = "".join(line + "\n" for line in lines)
    same(tally_buffer(text.encode()), by_the_parser(text))


@given(st.lists(st.one_of(valid_lines, valid_lines, garbage, bad_dates), max_size=60))
def test_logs_with_lines_lacking_a_status_or_downloads_with_bad_times_count_as_the_parser_counts(lines) -> None:
    text = "".join(line + "\n" for line in lines)
    same(tally_buffer(text.encode()), by_the_parser(text))


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data) -> None:
    tally_buffer(data)


@given(st.lists(st.one_of(valid_lines, valid_lines, bad_dates), max_size=60), st.lists(st.integers(0, 60), max_size=3))
def test_one_counter_over_several_buffers_counts_as_the_parser_counts(lines, cuts) -> None:
    """What the counter remembers between buffers (times, paths) changes no count."""
    counter, tally = BulkCounter(cache_limit=3), Tally()
    bounds = sorted({0, len(lines), *(min(cut, len(lines)) for cut in cuts)})
    for start, end in itertools.pairwise(bounds):
        counter.count("".join(line + "\n" for line in lines[start:end]).encode(), tally)
    same(tally, by_the_parser("".join(line + "\n" for line in lines)))
