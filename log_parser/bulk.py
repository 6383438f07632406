"""Counting a whole buffer of a combined log at once. Sans-I/O.

The line-at-a-time parser costs microseconds a line; a registry's CDN writes millions of
lines a minute. Here two regular expressions run over the whole buffer: one finds every
request's status and size (just after its quoted request line), the other the downloads
(GET, a tarball path, 200) with their minute. Distinct (minute, path) pairs are few, so
the tarball rule and the time parsing run once per pair, not once per line.

It gives what :class:`~log_parser.formats.CombinedParser` gives, line for line, on logs
whose lines are well formed or lack a status altogether: when the number of statuses found
is not the number of lines, or a download's time does not parse, the chunk is counted by
the parser instead, which also says why each bad line was refused. What it does not check,
to stay fast, is the fields before the request line of a line that is not a download.
"""

from __future__ import annotations

import re
from collections import Counter
from operator import itemgetter

import orjson

from .counting import Tally, tally_lines
from .formats.base import clf_time
from .formats.combined import CombinedParser
from .records import ParseError
from .tarball import parse_tarball_path

#: Status class digit and size, just after the closing quote of the request line.
STATUS = re.compile(rb'" (\d)\d\d (\d+|-)')
#: A download: minute and zone of its time, a tarball path (query allowed); GET; 200.
DOWNLOAD = re.compile(rb'\[([^\]\n]{17}):\d\d ([^\]\n]*)\] "GET (/[^ "\n]+\.tgz(?:[?#][^ "\n]*)?)(?: [^"\n]*)?" 200 ')


class BulkCounter:
    """Counts buffers one after another. Parsed times and tarball paths are remembered
    from one buffer to the next: the current minutes and the popular tarballs recur in
    every buffer of a log."""

    def __init__(self, cache_limit: int = 100_000) -> None:
        self.cache_limit = cache_limit
        self._times: dict[tuple[bytes, bytes], int] = {}
        self._packages: dict[bytes, tuple[str, str] | None] = {}

    def count(self, buffer: bytes, tally: Tally) -> None:
        """Count every line of ``buffer`` (combined or common format) into ``tally``."""
        statuses = STATUS.findall(buffer)
        downloads = self._downloads(buffer) if len(statuses) == _lines(buffer) else None
        if downloads is None:
            _count_line_by_line(buffer, tally)
            return
        tally.downloads.update(downloads)
        tally.requests += len(statuses)
        if not statuses:
            return
        for digit, found in Counter(map(itemgetter(0), statuses)).items():
            tally.by_status_class[f"{digit.decode()}xx"] += found
        tally.bytes_served += _total(list(map(itemgetter(1), statuses)))

    def _downloads(self, buffer: bytes) -> dict[tuple[str, str, int], int] | None:
        """Downloads per (package, version, minute), or None when a time does not parse.
        Times are parsed once per distinct minute and paths once per distinct path."""
        if len(self._times) > self.cache_limit:
            self._times.clear()
        if len(self._packages) > self.cache_limit:
            self._packages.clear()
        downloads: dict[tuple[str, str, int], int] = {}
        times, packages = self._times, self._packages
        for (minute, zone, path), count in Counter(DOWNLOAD.findall(buffer)).items():
            time = times.get((minute, zone))
            if time is None:
                try:
                    time = times[(minute, zone)] = clf_time(f"{minute.decode()}:00 {zone.decode()}")
                except (ParseError, UnicodeDecodeError):
                    return None
            found = packages.get(path, _UNSEEN)
            if found is _UNSEEN:
                found = packages[path] = parse_tarball_path(path.decode("utf-8", "replace"))
            if found is not None:
                key = (found[0], found[1], time)  # type: ignore[index]
                downloads[key] = downloads.get(key, 0) + count  # a plain dict: Counter's __missing__ is slow
        return downloads


def tally_buffer(buffer: bytes, tally: Tally | None = None) -> Tally:
    """Count every line of one buffer (combined or common format) into ``tally``."""
    tally = tally if tally is not None else Tally()
    BulkCounter().count(buffer, tally)
    return tally


_UNSEEN = object()


def _lines(buffer: bytes) -> int:
    """Lines in ``buffer``; a blank one has no status, so it sends the chunk to the parser."""
    return buffer.count(b"\n") + (1 if buffer and not buffer.endswith(b"\n") else 0)


def _total(sizes: list[bytes]) -> int:
    """The sum of response sizes ("-" is none): orjson reads them all in one call, unless
    one is not a JSON number (leading zeros), when int() reads them one by one."""
    try:
        return sum(orjson.loads(b"[" + b",".join(sizes).replace(b"-", b"0") + b"]"))
    except orjson.JSONDecodeError:
        return sum(int(size) for size in sizes if size != b"-")


def _count_line_by_line(buffer: bytes, tally: Tally) -> None:
    lines = buffer.decode("utf-8", "replace").split("\n")
    if lines[-1] == "":
        lines.pop()
    tally_lines(lines, CombinedParser(), tally)
