"""HTTP caching of the downloads API's answers and the page: ``Cache-Control``, an
``ETag``, and conditional requests answered 304. Pure: bytes and headers in, headers out.

Strategy: the ETag is a digest of the answer's body, so it changes exactly when the
answer does: when the day's data changes (a live flush, a backfilled object), when the
named periods move at midnight, never otherwise. Computing it costs the query, not the
transfer: a client that revalidates (``If-None-Match``) gets an empty 304. The store is
written by other processes (live, backfill, on other hosts with PostgreSQL), so a marker
kept by the API could not know of their writes; the body always does. How long a cache
may keep an answer depends on its days: one that includes today moves with every live
flush (``live_max_age``), one of past days only changes when a backfill replaces them
(``max_age``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

#: Seconds a cache may keep an answer of past days: they change only when a backfill
#: replaces them.
MAX_AGE = 300
#: Seconds for an answer that includes today, whose live count moves at every flush.
LIVE_MAX_AGE = 30


@dataclass(frozen=True)
class CachePolicy:
    """How long answers may be kept, in seconds (``serve --max-age``, ``--live-max-age``)."""

    max_age: int = MAX_AGE
    live_max_age: int = LIVE_MAX_AGE

    def __post_init__(self) -> None:
        for name in ("max_age", "live_max_age"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more seconds")

    def cache_control(self, end: dt.date | None, today: dt.date) -> str:
        """``end`` is the last day the answer covers; None for one that covers no days
        (the page's search, a badge of a package not found): as short as live answers."""
        seconds = self.max_age if end is not None and end < today else self.live_max_age
        return f"public, max-age={seconds}"


def etag_of(body: bytes) -> str:
    """A strong validator: the same bytes, the same tag (the CORS headers, which vary
    with the asking origin, are not part of it; ``Vary: Origin`` tells caches so)."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """Whether a GET or HEAD with this ``If-None-Match`` is answered 304: the weak
    comparison RFC 9110 asks for (``W/"x"`` matches ``"x"``), a list of tags, or ``*``."""
    if if_none_match is None:
        return False
    wanted = etag.removeprefix("W/")
    for listed in if_none_match.split(","):
        candidate = listed.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False
