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

from .counting import Tally, tally_lines
from .formats.base import clf_time
from .formats.combined import CombinedParser
from .records import ParseError
from .tarball import parse_tarball_path

#: Status class digit and size, just after the closing quote of the request line.
STATUS = re.compile(rb'" (\d)\d\d (\d+|-)')
#: A download: minute and zone of its time, a tarball path (query allowed); GET; 200.
DOWNLOAD = re.compile(rb'\[([^\]\n]{17}):\d\d ([^\]\n]*)\] "GET (/[^ "\n]+\.tgz(?:[?#][^ "\n]*)?)(?: [^"\n]*)?" 200 ')


def tally_buffer(buffer: bytes, tally: Tally | None = None) -> Tally:
    """Count every line of ``buffer`` (combined or common format) into ``tally``."""
    tally = tally if tally is not None else Tally()
    statuses = STATUS.findall(buffer)
    downloads = _downloads(buffer) if len(statuses) == _lines(buffer) else None
    if downloads is None:
        _count_line_by_line(buffer, tally)
        return tally
    tally.downloads.update(downloads)
    tally.requests += len(statuses)
    for digit, count in Counter(map(itemgetter(0), statuses)).items():
        tally.by_status_class[f"{digit.decode()}xx"] += count
    tally.bytes_served += sum(map(int, filter(b"-".__ne__, map(itemgetter(1), statuses))))
    return tally


def _lines(buffer: bytes) -> int:
    """Lines in ``buffer``; a blank one has no status, so it sends the chunk to the parser."""
    return buffer.count(b"\n") + (1 if buffer and not buffer.endswith(b"\n") else 0)


def _downloads(buffer: bytes) -> dict[tuple[str, str, int], int] | None:
    """Downloads per (package, version, minute), or None when a time does not parse.
    Times are parsed once per distinct minute and paths once per distinct path."""
    downloads: dict[tuple[str, str, int], int] = {}
    times: dict[tuple[bytes, bytes], int] = {}
    packages: dict[bytes, tuple[str, str] | None] = {}
    for (minute, zone, path), count in Counter(DOWNLOAD.findall(buffer)).items():
        time = times.get((minute, zone))
        if time is None:
            try:
                time = times[(minute, zone)] = clf_time(f"{minute.decode()}:00 {zone.decode()}")
            except (ParseError, UnicodeDecodeError):
                return None
        if path in packages:
            found = packages[path]
        else:
            found = packages[path] = parse_tarball_path(path.decode("utf-8", "replace"))
        if found is not None:
            key = (found[0], found[1], time)
            downloads[key] = downloads.get(key, 0) + count  # a plain dict: Counter's __missing__ is slow
    return downloads


def _count_line_by_line(buffer: bytes, tally: Tally) -> None:
    lines = buffer.decode("utf-8", "replace").split("\n")
    if lines[-1] == "":
        lines.pop()
    tally_lines(lines, CombinedParser(), tally)
