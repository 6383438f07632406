"""The npm downloads API over the downloads store, as an ASGI app (Starlette) served by
hypercorn on trio.

Same paths, JSON shapes and errors as npm's downloads API: ``/downloads/point/{period}[/{pkg}]``,
``/downloads/range/{period}[/{pkg}]``, comma-separated packages for bulk lookups, and
``/versions/{pkg}/last-week``. Where we do more than npm: today's live count is there
(ask for today's date), scoped packages work in bulk lookups, per-version counts are
available for any period at ``/versions/{pkg}/{period}``, ``all-time`` is a period, and a
range past npm's 18 months is answered when the store holds its days
(:mod:`log_parser._api_periods`). Every successful answer carries an ETag and
Cache-Control, and a conditional request is answered 304 (:mod:`log_parser._answers`).
The downloads page and the badge (:mod:`log_parser.page`) are served beside it.

Strategy: every answer, errors included, is JSON. The routes answer npm's errors; the
exception handlers turn Starlette's 404, 405 and 500 into ``{"error": ...}``; and
``json_protocol_errors`` does the same for the requests hypercorn refuses before any app
sees them (a request line with raw non-ASCII bytes). ``Cors`` lets browsers call us, as
they call npm's, from the origins given (``*`` by default: the data is public).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from http import HTTPStatus
from itertools import chain
from typing import Any

import h11
import orjson
from hypercorn.protocol import h11 as hypercorn_h11
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._answers import json_answer, json_error
from ._api_periods import MAX_BULK_PACKAGES, MAX_DAYS, MAX_RANGE_DAYS, Periods, utc_today
from ._caching import CachePolicy
from ._cors import ANY_ORIGIN, cors_headers, parse_origin, preflight_headers
from .core._periods import PeriodError, days_between
from .page import PageOptions, page_routes
from .store import Store

DEFAULT_CACHE = CachePolicy()
DEFAULT_PAGE = PageOptions()


def create_app(
    store_path: str,
    today: Callable[[], dt.date] = utc_today,
    cors_origins: Sequence[str] = (ANY_ORIGIN,),
    *,
    cache: CachePolicy = DEFAULT_CACHE,
    max_range_days: int = MAX_RANGE_DAYS,
    page: PageOptions = DEFAULT_PAGE,
) -> ASGIApp:
    """The API and the page, inside ``Cors`` so that every answer carries the CORS
    headers, a 500 from Starlette's outermost error handler too."""
    if max_range_days < MAX_DAYS:
        raise ValueError(f"max_range_days must be at least npm's {MAX_DAYS}")

    def open_store() -> Store:
        return Store(store_path, read_only=True)

    def point(request: Request) -> Response:
        return answer(request, range_=False)

    def range_(request: Request) -> Response:
        return answer(request, range_=True)

    def answer(request: Request, range_: bool) -> Response:
        periods = Periods(today(), max_range_days)
        period = request.path_params["period"]
        try:
            packages = packages_of(request.path_params.get("package"))
            bulk = isinstance(packages, Bulk)
            periods.check(period, bulk)
            store = open_store()
            try:
                if isinstance(packages, Bulk):
                    documents = _bulk_documents(store, packages, period, periods, range_)
                    last = max((str(d["end"]) for d in documents.values() if d is not None), default=None)
                    return reply(request, documents, None if last is None else dt.date.fromisoformat(last), periods)
                if packages is not None and not store.known(packages):
                    return json_error(404, f"package {packages} not found")
                start, end = periods.resolve(period, store, packages)
                daily = store.daily(packages, start, end)
                return reply(request, _document(packages, daily, start, end, range_), end, periods)
            finally:
                store.close()
        except PeriodError as exc:
            return json_error(400, str(exc))

    def versions(request: Request) -> Response:
        package = request.path_params["package"]
        periods = Periods(today(), max_range_days)
        try:
            periods.check(request.path_params["period"], bulk=False)
            store = open_store()
            try:
                if not store.known(package):
                    return json_error(404, f"package {package} not found")
                start, end = periods.resolve(request.path_params["period"], store, package)
                document = {"package": package, "downloads": store.by_version(package, start, end)}
                return reply(request, document, end, periods)
            finally:
                store.close()
        except PeriodError as exc:
            return json_error(400, str(exc))

    def reply(request: Request, document: object, end: dt.date | None, periods: Periods) -> Response:
        return json_answer(request, document, end=end, today=periods.today, policy=cache)

    app = Starlette(
        routes=[
            Route("/downloads/point/{period}", point),
            Route("/downloads/point/{period}/{package:path}", point),
            Route("/downloads/range/{period}", range_),
            Route("/downloads/range/{period}/{package:path}", range_),
            Route("/versions/{package:path}/{period}", versions),
            *page_routes(open_store, today, cache, page, max_range_days),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    return Cors(app, cors_origins)


class Bulk(list[str]):
    """The names of a bulk lookup, answered as a map by name."""


def packages_of(names: str | None) -> str | Bulk | None:
    """One package, a bulk lookup, or none (all packages). A comma makes a lookup bulk,
    as npm's does: ``express,`` is answered as the map ``{"express": ...}`` (npm's
    maintainers point to a trailing comma as the way to always get the bulk shape);
    empty names are ignored, so ``,`` alone is the empty map."""
    if not names:
        return None
    if "," not in names:
        return names
    packages = Bulk(dict.fromkeys(name for name in names.split(",") if name))
    if len(packages) > MAX_BULK_PACKAGES:
        raise PeriodError(f"bulk queries are limited to {MAX_BULK_PACKAGES} packages")
    return packages


def _bulk_documents(
    store: Store, packages: Bulk, period: str, periods: Periods, range_: bool
) -> dict[str, dict[str, object] | None]:
    """A bulk lookup's answer, by name (None for an unknown package): the packages of one
    period's days read by one query (all-time's days are each package's own)."""
    known = store.known_among(packages)
    spans: dict[tuple[dt.date, dt.date], list[str]] = {}
    for name in packages:
        if name in known:
            spans.setdefault(periods.resolve(period, store, name, bulk=True), []).append(name)
    documents: dict[str, dict[str, object] | None] = dict.fromkeys(packages)
    for (start, end), names in spans.items():
        daily = store.daily_of(names, start, end)
        for name in names:
            documents[name] = _document(name, daily.get(name, {}), start, end, range_)
    return documents


def _document(
    package: str | None, daily: dict[dt.date, int], start: dt.date, end: dt.date, range_: bool
) -> dict[str, object]:
    document: dict[str, object] = {"start": start.isoformat(), "end": end.isoformat()}
    if range_:
        document["downloads"] = [
            {"day": day.isoformat(), "downloads": daily.get(day, 0)} for day in days_between(start, end)
        ]
    else:
        document["downloads"] = sum(daily.values())
    if package is not None:
        document["package"] = package
    return document


def error_text(status: int) -> str:
    """``not found``, ``method not allowed``: the reason phrase, in npm's lower case."""
    return HTTPStatus(status).phrase.lower()


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 (no such route) and 405 are text/plain; ours are JSON."""
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": error_text(exc.status_code)}, exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": error_text(500)}, 500)


# --- CORS (the rules are in _cors.py) ---------------------------------------------------


class Cors:
    """ASGI middleware: answers preflight requests (``OPTIONS`` with
    ``Access-Control-Request-Method``) itself, and adds the CORS headers to every other
    answer, errors included, so a page can read why it was refused."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self.app = app
        self.origins = [parse_origin(origin) for origin in origins]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        origin = request_headers.get("origin")
        cors = cors_headers(self.origins, origin)
        if scope["method"] == "OPTIONS" and origin is not None and "access-control-request-method" in request_headers:
            await self._preflight(cors, request_headers, origin)(scope, receive, send)
            return
        if not cors:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in cors.items():
                    if name == "Vary":
                        headers.add_vary_header(value)  # beside any the app set
                    else:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    def _preflight(cors: dict[str, str], request_headers: Headers, origin: str) -> Response:
        if "Access-Control-Allow-Origin" not in cors:
            return JSONResponse({"error": f"origin {origin} not allowed"}, 403, headers=cors)
        return Response(
            status_code=204, headers=preflight_headers(cors, request_headers.get("access-control-request-headers"))
        )


# --- what hypercorn refuses ------------------------------------------------------------


def json_protocol_errors() -> None:
    """Make hypercorn's own error answers JSON too. h11 refuses a request it cannot parse
    (a request line with raw non-ASCII bytes, a malformed one, oversized headers) before
    any app sees it, and hypercorn then answers its status with an empty body; this
    replaces that answer with ``{"error": ...}``. hypercorn has no hook for it, so its
    method is replaced: process-wide, and only ``serve`` calls it."""
    if not hasattr(hypercorn_h11.H11Protocol, "_send_error_response"):  # a hypercorn that changed: say so
        raise RuntimeError("hypercorn's H11Protocol has no _send_error_response to replace")
    setattr(hypercorn_h11.H11Protocol, "_send_error_response", _send_json_error)  # noqa: B010


async def _send_json_error(self: Any, status_code: int) -> None:
    body = orjson.dumps({"error": error_text(status_code)})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    response = h11.Response(status_code=status_code, headers=list(chain(headers, self.config.response_headers("h11"))))
    await self._send_h11_event(response)
    await self._send_h11_event(h11.Data(data=body))
    await self._send_h11_event(h11.EndOfMessage())
