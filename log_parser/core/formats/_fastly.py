"""Fastly's log streaming over syslog: an RFC 5424 or RFC 3164 header (see
:mod:`._syslog_header`), then the message, which is a combined-style line or a JSON object
(see :mod:`._jsonlines`).

``<134>1 2016-07-04T22:37:26Z SJC LogTest - - [token@41058 tag="fastly"] 1.2.3.4 - - [04/Jul/2016:22:37:26 ...``
``<134>2024-05-01T12:00:00Z cache-ams21 registry[123]: 1.2.3.4 - - [01/May/2024:12:00:00 +0000] "GET ..." 200 ...``
"""

from __future__ import annotations

from collections.abc import Mapping

from .._records import Request
from ._base import LineParser
from ._combined import CombinedParser
from ._jsonlines import JsonLinesParser
from ._syslog_header import message_start


class FastlyParser(LineParser):
    name = "fastly"

    def __init__(self, json_fields: Mapping[str, str] | None = None) -> None:
        self._combined = CombinedParser()
        self._json = JsonLinesParser(json_fields)

    def parse(self, line: str) -> Request | None:
        if not line.strip():
            return None
        message = line[message_start(line) :]
        if message.lstrip().startswith("{"):
            return self._json.parse(message)
        return self._combined.parse(message)
