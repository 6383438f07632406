"""numbat-logs: CDN access logs to npm-style download counts.

The pure core (:mod:`log_parser.core`: formats, counting, the compiled scanner) and the
jobs around it: ``count`` (files, read through :func:`tally_file`), live mode
(:mod:`log_parser.live`), backfill from object storage (:mod:`log_parser.backfill`), the
downloads store (:class:`Store`) and its API (``numbat-logs serve``).

Counting a log file into a store::

    tally = tally_file(Path("access.log.gz"))
    store = Store("downloads.sqlite")
    store.add_live(to_day_counts(tally.downloads.items()))
"""

from __future__ import annotations

from ._reading import tally_file, tally_stream
from ._store import Store, to_day_counts
from .core import ParseError, Request, Tally, counter_for

__all__ = [
    "ParseError",
    "Request",
    "Store",
    "Tally",
    "counter_for",
    "tally_file",
    "tally_stream",
    "to_day_counts",
]
