"""JSON lines, one request per object, with a configurable mapping from our fields to the
log's (dotted paths reach into nested objects)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ..records import ParseError, Request
from .base import LineParser, iso_time

DEFAULT_FIELDS = {
    "time": "time",
    "method": "method",
    "path": "url",
    "status": "status",
    "size": "bytes",
    "cache": "cache",
}
HIT_WORDS = frozenset({"hit", "hit-stale", "hit-wait", "refreshhit", "hit-pass"})


class JsonLinesParser(LineParser):
    """``time`` may be epoch seconds, epoch milliseconds or an ISO 8601 string; ``cache``
    counts as a hit when it says HIT (any case, as Fastly and CloudFront write it)."""

    name = "json"

    def __init__(self, fields: Mapping[str, str] | None = None) -> None:
        mapping = {**DEFAULT_FIELDS, **(fields or {})}
        self._paths = {ours: tuple(theirs.split(".")) for ours, theirs in mapping.items()}

    def parse(self, line: str) -> Request | None:
        if not line.strip():
            return None
        try:
            document = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise ParseError("invalid JSON") from None
        if not isinstance(document, dict):
            raise ParseError("not a JSON object")
        time = self._get(document, "time")
        status = self._get(document, "status")
        method = self._get(document, "method")
        path = self._get(document, "path")
        if time is None or status is None or method is None or path is None:
            raise ParseError("missing time, method, path or status")
        try:
            status_code = int(status)
            size = int(self._get(document, "size") or 0)
        except (TypeError, ValueError):
            raise ParseError("status or size is not a number") from None
        cache = self._get(document, "cache")
        return Request(
            time=_epoch_seconds(time),
            method=str(method).upper(),
            path=str(path),
            status=status_code,
            size=size,
            cache_hit=None if cache is None else str(cache).lower().split(",")[0].strip() in HIT_WORDS,
        )

    def _get(self, document: dict[str, Any], field: str) -> Any:
        value: Any = document
        for key in self._paths[field]:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value


def _epoch_seconds(value: Any) -> int:
    if isinstance(value, bool):
        raise ParseError("bad time")
    if isinstance(value, int | float):
        return int(value / 1000) if value > 10_000_000_000 else int(value)  # ms or s
    if isinstance(value, str):
        return iso_time(value)
    raise ParseError("bad time")
