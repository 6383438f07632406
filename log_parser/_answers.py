"""How the API and the page answer: a body made once, with its caching headers, or a 304
when the client already holds it; errors as npm's JSON, never cached.

Strategy: every successful answer (JSON, the page, a badge) goes through
:func:`cached_answer`, so ``Cache-Control``, ``ETag`` and ``If-None-Match`` are handled in
one place by the rules of :mod:`log_parser._caching`.
"""

from __future__ import annotations

import datetime as dt

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ._caching import CachePolicy, etag_of, not_modified

JSON = "application/json"


def cached_answer(
    request: Request,
    body: bytes,
    media_type: str,
    *,
    end: dt.date | None,
    today: dt.date,
    policy: CachePolicy,
    status: int = 200,
) -> Response:
    """``body`` with its ETag and Cache-Control (``end``: the last day it covers), or an
    empty 304 carrying the same headers when ``If-None-Match`` names its tag."""
    etag = etag_of(body)
    headers = {"ETag": etag, "Cache-Control": policy.cache_control(end, today)}
    if status == 200 and not_modified(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status, media_type=media_type, headers=headers)


def json_answer(
    request: Request, document: object, *, end: dt.date | None, today: dt.date, policy: CachePolicy
) -> Response:
    return cached_answer(request, orjson.dumps(document), JSON, end=end, today=today, policy=policy)


def json_error(status: int, error: str) -> Response:
    """npm's ``{"error": ...}``; ``no-cache``: a package not found today may be found
    tomorrow, and an error must not hide it from a cache meanwhile."""
    return Response(orjson.dumps({"error": error}), status, media_type=JSON, headers={"Cache-Control": "no-cache"})
