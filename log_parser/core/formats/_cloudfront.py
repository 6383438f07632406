"""CloudFront standard logs: W3C extended format, tab-separated, field names from the
``#Fields:`` header (which may change between files, so it is followed as it comes),
URL-encoded values.

Strategy: the columns are found by name, from the last ``#Fields:`` line read (the
fields CloudFront writes by default until one comes), so a file that reorders or adds
fields reads as well; a line is split on tabs and only the needed fields are decoded.
"""

from __future__ import annotations

from urllib.parse import unquote

from .._records import ParseError, Request, checked_size, number_in_digits
from ._base import LineParser, iso_time

#: What CloudFront writes when a file has no #Fields header of its own.
DEFAULT_FIELDS = [
    "date", "time", "x-edge-location", "sc-bytes", "c-ip", "cs-method", "cs(Host)", "cs-uri-stem", "sc-status",
    "cs(Referer)", "cs(User-Agent)", "cs-uri-query", "cs(Cookie)", "x-edge-result-type", "x-edge-request-id",
    "x-host-header", "cs-protocol", "cs-bytes", "time-taken",
]  # fmt: skip
NEEDED = ("date", "time", "cs-method", "cs-uri-stem", "sc-status")
HITS = frozenset({"Hit", "RefreshHit", "OriginShieldHit"})


class CloudFrontParser(LineParser):
    name = "cloudfront"

    def __init__(self) -> None:
        self._index = self._columns(DEFAULT_FIELDS)

    @staticmethod
    def _columns(fields: list[str]) -> dict[str, int]:
        index = {name: i for i, name in enumerate(fields)}
        missing = [name for name in NEEDED if name not in index]
        if missing:
            raise ParseError(f"#Fields lacks {', '.join(missing)}")
        return index

    def parse(self, line: str) -> Request | None:
        if not line.strip():
            return None
        if line.startswith("#"):
            if line.startswith("#Fields:"):
                self._index = self._columns(line[len("#Fields:") :].split())
            return None
        values = line.rstrip("\r\n").split("\t")
        index = self._index
        try:
            date, time = values[index["date"]], values[index["time"]]
            status_text = values[index["sc-status"]]
            size_text = values[index["sc-bytes"]] if "sc-bytes" in index else "-"
            result = values[index["x-edge-result-type"]] if "x-edge-result-type" in index else None
            method = values[index["cs-method"]]
            stem = values[index["cs-uri-stem"]]
        except IndexError:
            raise ParseError("fewer fields than #Fields names") from None
        if len(status_text) != 3:
            raise ParseError("status is not a number")
        status = number_in_digits(status_text, "status")
        query = (
            values[index["cs-uri-query"]] if "cs-uri-query" in index and len(values) > index["cs-uri-query"] else "-"
        )
        return Request(
            time=iso_time(f"{date}T{time}Z"),
            method=method,
            # CloudFront encodes the stem once more than the client sent it; undo that one
            path=unquote(stem) + ("" if query in ("-", "") else "?" + query),
            status=status,
            size=0 if size_text == "-" else checked_size(number_in_digits(size_text, "size")),
            cache_hit=None if result is None else result in HITS,
        )
