"""Apache/nginx ``combined`` (and ``common``, its first seven fields) access logs.

``1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /pkg/-/pkg-1.0.0.tgz HTTP/1.1" 200 2326 "-" "npm/10"``
Fields an nginx log_format appends after the user agent are ignored.

Strategy: one regular expression, anchored at the line's start and ASCII-only, so that
its digits are 0-9. It is the reference for the compiled scanner (core/_scanner.py),
which gives the same result for the usual lines and hands every other line back here.
"""

from __future__ import annotations

import re

from .._records import ParseError, Request, checked_size, number_in_digits
from ._base import LineParser, clf_time

LINE = re.compile(
    r"(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "
    r'"(?:(?P<method>[A-Z]+) (?P<path>\S+)(?: [^"]*)?|[^"]*)" '
    r"(?P<status>\d{3}) (?P<size>\d+|-)",
    re.ASCII,  # digits are 0-9, as the scanner reads them: no other script's digits
)


class CombinedParser(LineParser):
    name = "combined"

    def parse(self, line: str) -> Request | None:
        if not line.strip():
            return None
        match = LINE.match(line)
        if match is None:
            raise ParseError("not a combined or common log line")
        size = match["size"]
        return Request(
            time=clf_time(match["time"]),
            method=match["method"] or "-",
            path=match["path"] or "",
            status=int(match["status"]),
            size=0 if size == "-" else checked_size(number_in_digits(size, "size")),
        )
