"""Format parsers by name."""

from __future__ import annotations

from .base import LineParser
from .cloudfront import CloudFrontParser
from .combined import CombinedParser
from .fastly import FastlyParser
from .jsonlines import JsonLinesParser

PARSERS: dict[str, type[LineParser]] = {
    "combined": CombinedParser,
    "fastly": FastlyParser,
    "cloudfront": CloudFrontParser,
    "json": JsonLinesParser,
}
