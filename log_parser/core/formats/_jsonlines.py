"""JSON lines, one request per object.

Where each of our fields is in a log's objects: a mapping given by the operator
(``--json-field time=date_time``; dotted paths reach into nested objects) wins; a field
it does not name is looked up under the key names CDNs and web servers commonly write
(:data:`KEY_NAMES`: Fastly's and crates.io's ``date_time``, nginx's ``request_uri`` and
``body_bytes_sent``, Google Cloud's ``httpRequest.requestUrl``...), the first one present
in the object winning. So the usual logs read with no mapping at all, and an unusual one
with a mapping of just the keys it names differently.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import orjson

from .._records import ParseError, Request, checked_size, checked_time, number_in_digits
from ._base import LineParser, clf_time, iso_time

#: Our fields, and where logs commonly keep them, in the order they are tried.
KEY_NAMES: dict[str, tuple[str, ...]] = {
    "time": (
        "time", "timestamp", "date_time", "@timestamp", "datetime", "time_iso8601", "time_local", "ts",
        "start_time", "date",
    ),
    "method": ("method", "request_method", "http_method", "cs-method", "httpRequest.requestMethod", "verb"),
    "path": (
        "url", "path", "uri", "request_uri", "request_url", "cs-uri-stem", "httpRequest.requestUrl", "request.url",
    ),
    "status": (
        "status", "status_code", "response_status", "http_status", "sc-status", "httpRequest.status",
        "response.status",
    ),
    "size": (
        "bytes", "size", "body_bytes_sent", "bytes_sent", "response_size", "resp_body_size", "sc-bytes",
        "httpRequest.responseSize",
    ),
    "cache": ("cache", "cache_status", "cache_state", "x-edge-result-type", "httpRequest.cacheHit"),
}  # fmt: skip
FIELDS = tuple(KEY_NAMES)
HIT_WORDS = frozenset({"hit", "hit-stale", "hit-wait", "refreshhit", "hit-pass", "originshieldhit"})
#: A number written as a JSON string (nginx's ``$msec``: "1700000000.123").
_NUMBER_TEXT = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
#: An epoch number's unit, told by its size: each unit covers April 1970 to the year
#: 2286, so seconds, milliseconds, microseconds and nanoseconds never overlap there.
_EPOCH_UNITS = ((10**10, 1), (10**13, 10**3), (10**16, 10**6), (10**19, 10**9))
_MAX_STATUS = 999


def parse_field_mapping(pairs: list[str]) -> dict[str, str]:
    """``["time=date_time", "path=request.url"]`` as a mapping; ValueError names what is
    wrong with a pair (an unknown field of ours, no key of theirs)."""
    mapping = {}
    for pair in pairs:
        ours, equals, theirs = pair.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not equals or not theirs or any(not key for key in theirs.split(".")):
            raise ValueError(f"{pair!r}: expected FIELD=KEY, such as time=date_time (KEY may be dotted: http.status)")
        if ours not in KEY_NAMES:
            raise ValueError(f"{pair!r}: {ours!r} is not one of {', '.join(FIELDS)}")
        mapping[ours] = theirs
    return mapping


class JsonLinesParser(LineParser):
    """``time`` may be epoch seconds, milliseconds, microseconds or nanoseconds (a number,
    or a string of one), an ISO 8601 string or Apache's %t; ``cache`` counts as a hit when
    it says HIT (any case, as Fastly and CloudFront write it) or is ``true``."""

    name = "json"

    def __init__(self, fields: Mapping[str, str] | None = None) -> None:
        unknown = set(fields or {}) - set(KEY_NAMES)
        if unknown:
            raise ValueError(f"no such field: {', '.join(sorted(unknown))}")
        mapped = fields or {}
        self._paths: dict[str, tuple[tuple[str, ...], ...]] = {
            ours: (tuple(mapped[ours].split(".")),)
            if ours in mapped
            else tuple(tuple(key.split(".")) for key in KEY_NAMES[ours])
            for ours in FIELDS
        }

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
        cache = self._get(document, "cache")
        return Request(
            time=_epoch_seconds(time),
            method=str(method).upper(),
            path=str(path),
            status=_status(status),
            size=_size(self._get(document, "size")),
            cache_hit=_cache_hit(cache),
        )

    def _get(self, document: dict[str, Any], field: str) -> Any:
        """The value of our ``field``: at the first of its paths that the object has."""
        for path in self._paths[field]:
            value: Any = document
            for key in path:
                if not isinstance(value, dict):
                    value = None
                    break
                value = value.get(key)
            if value is not None:
                return value
        return None


def _epoch_seconds(value: Any) -> int:
    if isinstance(value, bool):
        raise ParseError("bad time")
    if isinstance(value, str):
        if _NUMBER_TEXT.fullmatch(value):
            value = int(value) if value.isdigit() else float(value)
        elif "/" in value:
            return clf_time(value)  # nginx's $time_local
        else:
            return iso_time(value)
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ParseError("time out of range")
        for limit, per_second in _EPOCH_UNITS:
            if value < limit:
                return checked_time(value // per_second if isinstance(value, int) else math.floor(value / per_second))
        raise ParseError("time out of range")
    raise ParseError("bad time")


def _status(value: Any) -> int:
    number = _whole_number(value, "status")
    if number > _MAX_STATUS:
        raise ParseError("status out of range")
    return number


def _size(value: Any) -> int:
    if value is None or value in ("-", ""):
        return 0
    return checked_size(_whole_number(value, "size"))


def _whole_number(value: Any, what: str) -> int:
    """A JSON number or a string of ASCII digits, whole; ParseError otherwise."""
    if isinstance(value, bool):
        raise ParseError(f"{what} is not a number")
    if isinstance(value, int):
        if value < 0:
            raise ParseError(f"{what} out of range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or value < 0 or value > 2**63:
            raise ParseError(f"{what} out of range")
        if not value.is_integer():
            raise ParseError(f"{what} is not a whole number")
        return int(value)
    if isinstance(value, str):
        return number_in_digits(value, what)
    raise ParseError(f"{what} is not a number")


def _cache_hit(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).lower().split(",")[0].strip() in HIT_WORDS
