"""Log formats: lines in, requests out. Sans-I/O, one module per format."""

from __future__ import annotations

from .base import LineParser
from .cloudfront import CloudFrontParser
from .combined import CombinedParser
from .detect import detect_format
from .fastly import FastlyParser
from .jsonlines import JsonLinesParser
from .registry import PARSERS, new_parser

__all__ = [
    "PARSERS",
    "CloudFrontParser",
    "CombinedParser",
    "FastlyParser",
    "JsonLinesParser",
    "LineParser",
    "detect_format",
    "new_parser",
]
