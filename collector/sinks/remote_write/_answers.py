"""What a receiver's answer means, by remote write 1.0's rules. Sans-I/O.

2xx: written. 5xx and 429: not now, the same request may succeed later (retried with
backoff, waiting at least what a ``Retry-After`` header asks). Any other status: this
request will never be taken as it is (:class:`Refused`), so it is not retried; the sink
takes a 400 or a 413 apart to find what in it was refused. The receiver's message is
kept for the log, as it is: the spec forbids reading anything into it.
"""

from __future__ import annotations

import email.utils
import math
import time

from ..remote import Unavailable

#: Longest message kept from an answer's body.
MESSAGE_BYTES = 500


class Refused(Exception):
    """The receiver refused this request (a 4xx but 429): retrying it cannot help."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if message else str(status))
        self.status = status
        self.message = message


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delay-seconds or an HTTP date), or
    None when there is none or it cannot be read."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a date without a zone is read as such
        return None
    seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def check_answer(status: int, body: bytes, headers: dict[str, str], max_retry_after: float = math.inf) -> None:
    """Return for a success; raise Unavailable (retry, not before what Retry-After asks,
    up to ``max_retry_after`` seconds) or Refused (do not)."""
    if 200 <= status < 300:
        return
    message = body[:MESSAGE_BYTES].decode("utf-8", "replace").strip()
    if status >= 500 or status == 429:
        wait = retry_after(headers.get("retry-after"))
        raise Unavailable(
            f"{status}: {message}" if message else str(status), None if wait is None else min(wait, max_retry_after)
        )
    raise Refused(status, message)
