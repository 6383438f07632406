"""The pure core of numbat-logs: log lines in, download counts out, no I/O.

Records (:class:`Request`, the ranges every format holds), the tarball path rule, the
formats and their detection, npm's counting rule (:class:`Tally`), the compiled scanner
for combined logs and :func:`counter_for`, which chooses how a format is counted; beside
them, used by the jobs around the core: download periods, the syslog TCP framing and the
incremental decompressor. Nothing here reads a file or a socket, starts a task, or opens
a database: the jobs in :mod:`log_parser` do, and hand bytes in.

Embedding the counting::

    tally = Tally()
    counter = counter_for("combined")
    counter.count(b"...whole lines...", tally)
    tally.downloads  # Counter of (package, version, minute) -> downloads
"""

from __future__ import annotations

from ._counter import FormatCounter, counter_for, warm_for
from ._counting import Tally, is_download
from ._records import ParseError, Request
from ._tarball import parse_tarball_path
from .formats import PARSERS, LineParser, detect_format, new_parser

__all__ = [
    "PARSERS",
    "FormatCounter",
    "LineParser",
    "ParseError",
    "Request",
    "Tally",
    "counter_for",
    "detect_format",
    "is_download",
    "new_parser",
    "parse_tarball_path",
    "warm_for",
]
