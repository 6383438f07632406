"""CORS for the downloads API, as rules: origins in, headers out. Pure; the ASGI middleware
that applies them is :class:`log_parser._api.Cors`.

Strategy: the data is public, so by default any page may read it (``*``); given a list of
origins, an answer names the asking origin when it is on the list and tells caches that
it depends on ``Origin`` whoever asks. ``--cors-origin`` is checked here at start, so a
typo is refused rather than never matching. Apart from the API so that the command line
can check its argument without loading Starlette.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

ANY_ORIGIN = "*"
CORS_METHODS = "GET, HEAD, OPTIONS"
CORS_MAX_AGE = 86400  #: seconds a browser may keep a preflight's answer


def parse_origin(text: str) -> str:
    """An origin as browsers send it (``scheme://host[:port]``, no path), or ``*``; for
    ``--cors-origin``, so a typo is refused at start rather than never matching."""
    if text == ANY_ORIGIN:
        return text
    parts = urlsplit(text)
    if (
        parts.scheme not in {"http", "https"}
        or not parts.netloc
        or parts.path not in {"", "/"}
        or parts.query
        or parts.fragment
    ):
        raise ValueError(f"not an origin (scheme://host[:port]) or *: {text!r}")
    return f"{parts.scheme}://{parts.netloc}".lower()  # as browsers send it: no final slash


def cors_headers(origins: Sequence[str], origin: str | None) -> dict[str, str]:
    """The CORS headers of an answer to a request from ``origin``: with
    ``Access-Control-Allow-Origin`` if a page there may read it. With a list of origins
    the answer depends on ``Origin``, so caches are told (``Vary``) whoever asks."""
    if ANY_ORIGIN in origins:
        return {"Access-Control-Allow-Origin": ANY_ORIGIN} if origin is not None else {}
    if origin is not None and origin.lower() in origins:
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {"Vary": "Origin"}


def preflight_headers(cors: dict[str, str], requested_headers: str | None) -> dict[str, str]:
    headers = {**cors, "Access-Control-Allow-Methods": CORS_METHODS, "Access-Control-Max-Age": str(CORS_MAX_AGE)}
    if requested_headers:  # the data is public: whatever a script sends along may come
        headers["Access-Control-Allow-Headers"] = requested_headers
    return headers
