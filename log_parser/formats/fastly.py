"""Fastly's log streaming over syslog: an RFC 3164-style prefix, then the message, which
is a combined-style line or a JSON object (see :mod:`.jsonlines`).

``<134>2024-05-01T12:00:00Z cache-ams21 registry[123]: 1.2.3.4 - - [01/May/2024:12:00:00 +0000] "GET ..." 200 ...``
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..records import ParseError, Request
from .base import LineParser
from .combined import CombinedParser
from .jsonlines import JsonLinesParser

PREFIX = re.compile(
    r"<\d{1,3}>(?:1 )?"  # priority, and RFC 5424's version
    r"(?:\d{4}-\d\d-\d\dT\S+|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) "  # ISO or BSD timestamp
    r"\S+ "  # host
    r"[^:\[\s]+(?:\[\d+\])?: "  # tag[pid]
)


class FastlyParser(LineParser):
    name = "fastly"

    def __init__(self, json_fields: Mapping[str, str] | None = None) -> None:
        self._combined = CombinedParser()
        self._json = JsonLinesParser(json_fields)

    def parse(self, line: str) -> Request | None:
        if not line.strip():
            return None
        prefix = PREFIX.match(line)
        if prefix is None:
            raise ParseError("no syslog prefix")
        message = line[prefix.end() :]
        if message.lstrip().startswith("{"):
            return self._json.parse(message)
        return self._combined.parse(message)
