"""Log formats: lines in, requests out, one module per format. Sans-I/O.

Each parser reads one line at a time and gives a :class:`~log_parser.core.Request`, None
for a line that carries none by design (a header, a comment, a blank), or raises
ParseError with the reason. :func:`new_parser` makes one by name; :func:`detect_format`
tells which one reads a sample of lines best (``--format auto``).
"""

from __future__ import annotations

from ._base import LineParser
from ._cloudfront import CloudFrontParser
from ._combined import CombinedParser
from ._detect import NOTHING_TO_TELL, detect_format
from ._fastly import FastlyParser
from ._jsonlines import JsonLinesParser, parse_field_mapping
from ._registry import PARSERS, new_parser

__all__ = [
    "NOTHING_TO_TELL",
    "PARSERS",
    "CloudFrontParser",
    "CombinedParser",
    "FastlyParser",
    "JsonLinesParser",
    "LineParser",
    "detect_format",
    "new_parser",
    "parse_field_mapping",
]
