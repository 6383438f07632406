"""Format parsers by name, and the one way to make one.

Strategy: a table of classes, the names being those of ``--format``; :func:`new_parser`
alone knows which formats take the operator's JSON field mapping (``json``, and
``fastly``, whose messages may be JSON objects).
"""

from __future__ import annotations

from collections.abc import Mapping

from ._base import LineParser
from ._cloudfront import CloudFrontParser
from ._combined import CombinedParser
from ._fastly import FastlyParser
from ._jsonlines import JsonLinesParser

PARSERS: dict[str, type[LineParser]] = {
    "combined": CombinedParser,
    "fastly": FastlyParser,
    "cloudfront": CloudFrontParser,
    "json": JsonLinesParser,
}


def new_parser(name: str, json_fields: Mapping[str, str] | None = None) -> LineParser:
    """A parser of the format ``name``; ``json_fields`` maps our fields to the log's keys
    for the formats that carry JSON objects (``json``, and ``fastly``'s JSON messages)."""
    if name == "json":
        return JsonLinesParser(json_fields)
    if name == "fastly":
        return FastlyParser(json_fields)
    return PARSERS[name]()
