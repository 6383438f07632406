"""The bulk counter counts what the line parser counts, whatever the buffer holds."""

from __future__ import annotations

import datetime as dt
import io
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from log_parser.core import Tally
from log_parser.core._bulk import BulkCounter, tally_buffer
from log_parser.core._counting import tally_lines
from log_parser.core.formats import CombinedParser

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
        "/express/-/express-4.18.2%2Etgz",
        "/express/-/express-4.18.2%2E%74gz",
        "https://static.example/express/-/express-4.18.2.tgz",
        "/_private/-/_private-1.0.0.tgz",
        "/pkg/-/pkg-1.0.0-01.tgz",
        "/pkg/-/pkg-1.0.0-a..b.tgz",
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
#: Times the scanner must refuse or read as clf_time does: dates that do not exist, leap
#: days, seconds past 59 (clf_time adds them: the minute moves on), years before 1970.
odd_times = st.sampled_from(
    [
        "31/Foo/2024:12:00:07 +0000",
        "31/Feb/2024:12:00:07 +0000",
        "29/Feb/2023:12:00:07 +0000",
        "29/Feb/2024:23:59:59 +0000",
        "29/Feb/2000:00:00:00 -1200",
        "29/Feb/1900:00:00:00 +0000",
        "29/Feb/2100:00:00:00 +0000",
        "00/May/2024:12:00:07 +0000",
        "01/may/2024:12:00:07 +0000",
        "01/May/0000:12:00:07 +0000",
        "01/May/1969:12:00:07 +0000",
        "01/Jan/1970:00:00:30 +0100",
        "01/May/2024:12:59:75 +0000",
        "01/May/2024:25:61:00 +0000",
        "01/May/2024:25:00:00 +0000",
        "01/May/2024:12:75:00 +0000",
        "01/May/2024:12:00:60 +0000",
        "01/May/2024:12:00:61 +0000",
        "01/May/2024:12:00:07 +9999",
        "01/May/2024:12:00:07 +1400",
        "01/May/2024:12:00:07 +1401",
        "01/May/2024:12:00:07 -1200",
        "01/May/2024:12:00:07 -1201",
        "01/May/2024:12:00:07 +0560",
        "01/May/2024:12:00:07 X0000",
        "01/May/2024:12:00:07 +00000",
        "1/May/2024:12:00:07 +0000",
        "01/May/2024:12:00:0\u0667 +0000",
    ]
)
bad_dates = st.builds(
    lambda time, path: f'10.0.0.1 - - [{time}] "GET {path} HTTP/1.1" 200 5 "-" "npm"',
    odd_times,
    paths.filter(lambda p: ".tgz" in p),
)
#: Pieces the scanner must hand to the parser, or read as the parser's expression does.
tricky = st.sampled_from(
    ['"', " ", "  ", "\t", "\r", "\x0b", "\xa0", "é", "٣", "-", "[", "]", "?", "#", "0", "9", "\x00", "\ufffd"]
)


@st.composite
def mutated_lines(draw: st.DrawFn) -> str:
    """A valid line with a few characters replaced, inserted or deleted anywhere."""
    line = draw(st.one_of(valid_lines, bad_dates))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(line)))
        edit = draw(st.sampled_from(["replace", "insert", "delete"]))
        piece = "" if edit == "delete" else draw(tricky)
        line = line[:at] + piece + line[at + (edit != "insert") :]
    return line


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
def test_logs_with_garbage_and_odd_times_count_as_the_parser_counts(lines) -> None:
    text = "".join(line + "\n" for line in lines)
    same(tally_buffer(text.encode()), by_the_parser(text))


@given(st.lists(st.one_of(valid_lines, mutated_lines()), max_size=40), st.sampled_from(["\n", "\r\n"]))
def test_lines_damaged_anywhere_count_as_the_parser_counts(lines, ending) -> None:
    text = "".join(line + ending for line in lines)
    same(tally_buffer(text.encode()), by_the_parser(text))


@given(st.binary(max_size=400))
def test_arbitrary_bytes_count_as_the_parser_counts(data) -> None:
    same(tally_buffer(data), by_the_parser(data.decode("utf-8", "replace")))


def test_a_buffer_without_a_final_newline_counts_its_last_line() -> None:
    line = '10.0.0.1 - - [01/May/2024:12:00:07 +0000] "GET /a/-/a-1.0.0.tgz HTTP/1.1" 200 5 "-" "npm"'
    tally = tally_buffer((line + "\n" + line).encode())
    assert (tally.requests, tally.total_downloads, tally.bytes_served) == (2, 2, 10)
    assert tally.downloads == {("a", "1.0.0", 1714564800): 2}


def test_refused_lines_are_written_to_rejects_with_their_reason() -> None:
    good = '10.0.0.1 - - [01/May/2024:12:00:07 +0000] "GET /a/-/a-1.0.0.tgz HTTP/1.1" 200 5 "-" "npm"'
    rejects = io.StringIO()
    tally = Tally()
    BulkCounter(rejects=rejects).count(f"{good}\nnot a log line\n{good.replace('May', 'Foo')}\n".encode(), tally)
    assert (tally.requests, dict(tally.rejected)) == (1, {"not a combined or common log line": 1, "bad time": 1})
    assert rejects.getvalue().splitlines() == [
        "not a combined or common log line\tnot a log line",
        f"bad time\t{good.replace('May', 'Foo')}",
    ]


def test_sizes_summed_past_the_scanners_carry_are_exact() -> None:
    """Sizes of up to 15 digits (the largest taken) are summed in two 64-bit words
    exactly; a longer one (leading zeros apart) is refused by the parser, by reason."""
    line = '10.0.0.1 - - [01/May/2024:12:00:07 +0000] "GET /x HTTP/1.1" 200 {} "-" "npm"\n'
    sizes = [999_999_999_999_999] * 3000 + [7]
    odd = ["12345678901234567890123", "1000000000000000", "000000000000000009"]
    tally = tally_buffer("".join(line.format(size) for size in [*sizes, *odd]).encode())
    assert (tally.requests, tally.bytes_served) == (len(sizes) + 1, sum(sizes) + 9)
    assert tally.rejected == {"size out of range": 2}


def test_many_distinct_downloads_are_all_counted() -> None:
    """Past the scanner's first table size (1024 pairs), every (path, minute) still counts."""
    line = '10.0.0.1 - - [01/May/2024:12:{:02}:07 +0000] "GET /p{}/-/p{}-1.0.0.tgz HTTP/1.1" 200 5 "-" "npm"\n'
    text = "".join(line.format(minute, name, name) for name in range(700) for minute in range(3)) * 2
    tally = tally_buffer(text.encode())
    assert len(tally.downloads) == 2100
    assert set(tally.downloads.values()) == {2}
    same(tally, by_the_parser(text))


@given(st.lists(st.one_of(valid_lines, valid_lines, bad_dates), max_size=60), st.lists(st.integers(0, 60), max_size=3))
def test_one_counter_over_several_buffers_counts_as_the_parser_counts(lines, cuts) -> None:
    """What the counter remembers between buffers (times, paths) changes no count."""
    counter, tally = BulkCounter(cache_limit=3), Tally()
    bounds = sorted({0, len(lines), *(min(cut, len(lines)) for cut in cuts)})
    for start, end in itertools.pairwise(bounds):
        counter.count("".join(line + "\n" for line in lines[start:end]).encode(), tally)
    same(tally, by_the_parser("".join(line + "\n" for line in lines)))


GOOD = '10.0.0.1 - - [01/May/2024:12:00:07 +0000] "GET /a/-/a-1.0.0.tgz HTTP/1.1" 200 5 "-" "npm"'


@pytest.mark.parametrize(
    "line",
    [
        GOOD,
        GOOD.replace("10.0.0.1", "10.0.0.1\t"),  # \S stops at any whitespace, not only a space
        GOOD.replace(" - - ", " -\xa0- "),
        GOOD.replace(" - - ", " -\x85- "),
        GOOD.replace(" - - ", " é - "),  # \S takes any other character
        GOOD.replace(" 200 5 ", " 200 5٣ "),  # \d+ reads Arabic-Indic digits, and int() too
        GOOD.replace(" 200 5 ", " 20\u0660 5 "),
        GOOD.replace(" 200 5 ", " 200 5"),
        GOOD.replace(" 200 5 ", " 200 - "),
        GOOD.replace(" 200 5 ", " 099 5 "),
        GOOD.replace(" 200 5 ", " 200 1234567890123456 "),
        GOOD.replace(" 200 5 ", " 200 "),
        GOOD.replace(" HTTP/1.1", ""),  # no protocol
        GOOD.replace(".tgz HTTP", '.tgz" HTTP'),  # a quote in the path
        GOOD.replace(' HTTP/1.1" 200 5 "-"', '" 200 5 " 404 9'),  # \S+ takes the quote: status 404
        GOOD.replace('"GET /a/-/a-1.0.0.tgz HTTP/1.1"', '"-"'),
        GOOD.replace("GET", "get"),
        GOOD.replace("GET", "GETS"),
        GOOD.replace(".tgz", ".tgz?x=1#y"),
        GOOD.replace(".tgz", ".tgz#y"),
        GOOD.replace(".tgz", ".tgz#y?x"),
        GOOD.replace(".tgz", "#.tgz"),
        GOOD.replace("/a/-/a-1.0.0.tgz", "/a/-/a-1.0.0.tgz%20"),
        GOOD.replace("/a/-/a-1.0.0.tgz", ".tgz"),
        GOOD.replace("[01/May", "[ 01/May"),
        GOOD.replace("+0000]", "+0000 ]"),
        GOOD + "\r",
        GOOD[:40],
        " ",
        "\t",
    ],
)
def test_edge_lines_count_as_the_parser_counts(line: str) -> None:
    text = f"{GOOD}\n{line}\n{GOOD}\n"
    same(tally_buffer(text.encode()), by_the_parser(text))
