"""``--format auto``: which parser reads the first lines of a log best.

Every format is tried on the same sample and the one that reads the most requests wins;
no single line decides (a ``#Version:`` line in a combined log must not make it
CloudFront). A sample with no request in it (an empty log, blank lines, CloudFront
headers alone) tells nothing: :data:`NOTHING_TO_TELL`, which is no error, since such a
log counts nothing whatever its format.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Final

from ._registry import PARSERS, new_parser

SAMPLE_LINES = 50
#: What detection says of a sample without a line that could be a request.
NOTHING_TO_TELL: Final = "none"


def detect_format(lines: Iterable[str], json_fields: Mapping[str, str] | None = None) -> str | None:
    """The format name that parses the most of the first non-blank ``lines`` (at least
    one), :data:`NOTHING_TO_TELL` when there are none but headers and comments, or None
    when no format reads any of them."""
    sample = [line for line in lines if line.strip()][:SAMPLE_LINES]
    if all(line.startswith("#") for line in sample):
        return NOTHING_TO_TELL
    best, best_score = None, 0
    for name in PARSERS:
        parser = new_parser(name, json_fields)
        score = 0
        for line in sample:
            with contextlib.suppress(Exception):  # a line it cannot read, whatever the way, scores nothing
                score += parser.parse(line) is not None
        if score > best_score:
            best, best_score = name, score
    return best
