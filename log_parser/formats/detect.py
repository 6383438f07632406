"""``--format auto``: which parser reads the first lines of a log best."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from ..records import ParseError
from .registry import PARSERS


def detect_format(lines: Iterable[str]) -> str | None:
    """The format name that parses the most of ``lines`` (at least one), or None."""
    sample = [line for line in lines if line.strip()][:50]
    if any(line.startswith("#Fields:") or line.startswith("#Version:") for line in sample):
        return "cloudfront"
    best, best_score = None, 0
    for name, parser_type in PARSERS.items():
        parser = parser_type()
        score = 0
        for line in sample:
            with contextlib.suppress(ParseError):
                score += parser.parse(line) is not None
        if score > best_score:
            best, best_score = name, score
    return best
