"""Real registry logs through the compiled path (scanner, known paths, downloads summed
over buffers, chunks scanned in threads side by side) count exactly as the line parser
counts them: scoped and percent-encoded paths, query strings, metadata requests, HEAD,
206, 304 and 404 answers, requests with no method, and damaged lines mixed in."""

from __future__ import annotations

import datetime as dt
import io
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from log_parser import _reading
from log_parser.core import Tally, _counter
from log_parser.core._bulk import BulkCounter, tally_buffer
from log_parser.core._counting import DAY, MINUTE, tally_lines
from log_parser.core._memory import CounterMemory
from log_parser.core.formats import CombinedParser

from .test_bulk import same

NAMES = ["lodash", "is-number", "JSONStream", "@babel/core", "@types/node", "@a/b"]


@st.composite
def package_paths(draw: st.DrawFn) -> str:
    """A registry path as clients and CDNs spell it."""
    name = draw(st.sampled_from(NAMES))
    if name.startswith("@") and draw(st.booleans()):
        slash, at = draw(st.sampled_from(["%2f", "%2F"])), draw(st.sampled_from(["@", "%40"]))
        name = name.replace("/", slash).replace("@", at)
    kind = draw(st.sampled_from(["tarball"] * 6 + ["metadata", "search", "dist-tags", "other version"]))
    base = name.replace("%2f", "/").replace("%2F", "/").rsplit("/", 1)[-1]
    version = draw(st.sampled_from(["1.0.0", "4.17.21", "1.0.0", "4.17.21", "7.0.0-beta.1", "1.0.0+build.5", "01.0.0"]))
    if kind == "tarball":
        path = f"/{name}/-/{base}-{version}{draw(st.sampled_from(['.tgz', '.tgz', '%2Etgz', '.tar.gz']))}"
    elif kind == "other version":
        path = f"/{name}/-/{base}-x-{version}.tgz"
    elif kind == "metadata":
        path = f"/{name}"
    elif kind == "search":
        path = f"/-/v1/search?text={name}&size=20"
    else:
        path = f"/-/package/{name}/dist-tags"
    path += draw(st.sampled_from([""] * 6 + ["?cache=1", "?cache=2", "#frag", "?a=1#b"]))
    if draw(st.integers(0, 9)) == 0:
        path = "https://registry.example.org" + path
    return path


@st.composite
def messy_lines(draw: st.DrawFn) -> bytes:
    """A line of a real CDN log, damaged now and then."""
    moment = dt.datetime(2024, 5, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=draw(st.integers(0, 3 * 86400)))
    zone = draw(st.sampled_from(["+0000", "+0000", "-0700", "+0530", "+1400"]))
    client = draw(st.sampled_from(["10.0.0.1", "2001:db8::1", "cdn-edge.example", "::1"]))
    method = draw(st.sampled_from(["GET"] * 6 + ["HEAD", "POST"]))
    request = f"{method} {draw(package_paths())} HTTP/1.1"
    no_method = ["-", "", "\\x16\\x03\\x01\\x00", "/lodash/-/lodash-4.17.21.tgz", "get /lodash/-/lodash-4.17.21.tgz"]
    request = draw(st.sampled_from([request] * 12 + [*no_method, "GET /a", "GET"]))
    status = draw(st.sampled_from([200] * 8 + [206, 301, 304, 404, 429, 500]))
    size = draw(st.sampled_from(["-", "0", "512", "1048576", "007"]))
    agent = draw(st.sampled_from(["npm/10.5.0 node/v20", "Mozilla/5.0 (Überprüfung)", "-", 'a \\"quoted\\" agent']))
    extra = draw(st.sampled_from(["", " rt=0.003 cache=HIT", ' "x-forwarded" 1.2.3.4']))
    line = (
        f'{client} - - [{moment.strftime("%d/%b/%Y:%H:%M:%S")} {zone}] "{request}" {status} {size} "-" "{agent}"{extra}'
    ).encode()
    damage = draw(st.sampled_from(["none"] * 12 + ["cut", "bytes", "hour", "field", "crlf"]))
    if damage == "cut":
        line = line[: draw(st.integers(0, len(line)))]
    elif damage == "bytes":
        at = draw(st.integers(0, len(line)))
        piece = draw(st.sampled_from([b"\xff\xfe", b"\xc3", b"\x00", b'"', b" ", b"\t", b"\xc2\xa0"]))
        line = line[:at] + piece + line[at:]
    elif damage == "hour":
        line = line.replace(b":", b":7", 1)
    elif damage == "field":
        line = line.replace(b" - - ", b" - ", 1)
    elif damage == "crlf":
        line += b"\r"
    return line


def by_the_parser(data: bytes, resolution: int = MINUTE) -> tuple[Tally, str]:
    """The line parser's tally of ``data``, and the rejects it writes."""
    tally, rejects = Tally(resolution=resolution), io.StringIO()
    lines = data.decode("utf-8", "replace").split("\n")
    if lines[-1] == "":
        lines.pop()
    tally_lines(lines, CombinedParser(), tally, rejects)
    return tally, rejects.getvalue()


@given(st.lists(messy_lines(), max_size=80))
def test_messy_lines_count_as_the_parser_counts(lines) -> None:
    data = b"".join(line + b"\n" for line in lines)
    same(tally_buffer(data), by_the_parser(data)[0])


@settings(max_examples=60, deadline=None)
@given(st.lists(messy_lines(), min_size=10, max_size=150), st.sampled_from([1, 2, 3]), st.sampled_from([MINUTE, DAY]))
def test_a_messy_log_read_in_chunks_and_threads_counts_as_the_parser_counts(lines, threads, resolution) -> None:
    """Through the reading shell: chunks of a few hundred bytes, scanned side by side in
    ``threads`` threads, finished in order (the rejects too), downloads summed over the
    chunks by compiled code, per minute or per day."""
    data = b"".join(line + b"\n" for line in lines)
    rejects = io.StringIO()
    with (
        mock.patch.object(_reading, "CHUNK_BYTES", 300),
        mock.patch.object(_reading, "HEAD_LINES", 1),
        mock.patch.object(_counter, "COMPILE_AFTER", 0),
    ):
        tally = _reading.tally_stream(io.BytesIO(data), "combined", rejects, threads=threads, resolution=resolution)
    expected, expected_rejects = by_the_parser(data, resolution)
    same(tally, expected)
    assert rejects.getvalue() == expected_rejects


def test_one_counter_keeps_two_tallies_apart() -> None:
    """Downloads held for one tally are added to it, not to the next one a buffer comes for."""
    line = '10.0.0.1 - - [01/May/2024:12:00:07 +0000] "GET /{0}/-/{0}-1.0.0.tgz HTTP/1.1" 200 5 "-" "npm"\n'
    counter, first, second = BulkCounter(), Tally(), Tally(resolution=DAY)
    a, b = (line.format("a") * 3).encode(), (line.format("b") * 2).encode()
    counter.finish(a, counter.scan(a), first)
    counter.finish(b, counter.scan(b), second)
    counter.flush()
    assert first.downloads == {("a", "1.0.0", 1714564800): 3}
    assert second.downloads == {("b", "1.0.0", 1714521600): 2}


def test_past_the_cache_limit_the_held_downloads_still_count() -> None:
    """Forgetting the known paths (past ``cache_limit``) first adds what was held."""
    line = '10.0.0.1 - - [01/May/2024:12:00:07 +0000] "GET /p{0}/-/p{0}-1.0.0.tgz HTTP/1.1" 200 5 "-" "npm"\n'
    counter, tally = BulkCounter(cache_limit=5), Tally()
    for start in range(0, 40, 8):
        chunk = "".join(line.format(n) for n in range(start, start + 8)).encode()
        counter.finish(chunk, counter.scan(chunk), tally)
    counter.flush()
    assert tally.downloads == {(f"p{n}", "1.0.0", 1714564800): 1 for n in range(40)}


@pytest.mark.parametrize("resolution", [0, -60, 90, 7 * 60, 2 * DAY])
def test_a_tally_refuses_a_resolution_that_does_not_divide_a_day_in_minutes(resolution: int) -> None:
    with pytest.raises(ValueError, match="resolution"):
        Tally(resolution=resolution)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(messy_lines(), max_size=30), min_size=2, max_size=5), st.sampled_from([3, 100_000]))
def test_counters_handing_on_their_memory_count_each_log_as_the_parser(logs, cache_limit) -> None:
    """A backfill worker's counters, one per object, share what they know of paths
    (CounterMemory): each log still counts as the parser counts it, alone, also when the
    memory is forgotten (``cache_limit``) between or inside logs."""
    memory = CounterMemory()
    for lines in logs:
        data = b"".join(line + b"\n" for line in lines)
        tally, counter = Tally(resolution=DAY), BulkCounter(cache_limit=cache_limit, memory=memory)
        half = data.rfind(b"\n", 0, len(data) // 2) + 1
        for chunk in (data[:half], data[half:]):
            counter.finish(chunk, counter.scan(chunk), tally)
        counter.flush()
        same(tally, by_the_parser(data, DAY)[0])
