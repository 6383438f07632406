"""numbat-logs: CDN access logs to npm-style download counts.

The pure core (:mod:`log_parser.core`: formats, counting, the compiled scanner) and the
jobs around it: ``count`` (files, read through :func:`tally_file`), live mode
(:mod:`log_parser.live`), backfill from object storage (:mod:`log_parser.backfill`), the
downloads store (:mod:`log_parser.store`: SQLite or PostgreSQL, :func:`open_store`) and its API (``numbat-logs serve``).

Counting a log file into a store::

    tally = tally_file(Path("access.log.gz"))
    store = open_store("downloads.sqlite")  # or "postgresql://host/downloads"
    store.add_live(to_day_counts(tally.downloads.items()))
"""

from __future__ import annotations

from ._reading import tally_file, tally_stream
from .core import ParseError, Request, Tally, counter_for
from .store import Store, open_store, to_day_counts

__all__ = [
    "ParseError",
    "Request",
    "Store",
    "Tally",
    "counter_for",
    "open_store",
    "tally_file",
    "tally_stream",
    "to_day_counts",
]
