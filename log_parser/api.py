"""The npm downloads API over the downloads store, as an ASGI app (Starlette) served by
hypercorn on trio.

Same paths, JSON shapes and errors as api.npmjs.org: ``/downloads/point/{period}[/{pkg}]``,
``/downloads/range/{period}[/{pkg}]``, comma-separated packages for bulk lookups, and
``/versions/{pkg}/last-week``. Where we do better than npm: today's live count is there
(ask for today's date), scoped packages work in bulk lookups, and per-version counts are
available for any period at ``/versions/{pkg}/{period}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .periods import PeriodError, days_between, parse_period
from .store import Store

MAX_DAYS = 548  #: 18 months, npm's limit for one package
MAX_BULK_DAYS = 365
MAX_BULK_PACKAGES = 128


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def create_app(store_path: str, today: Callable[[], dt.date] = utc_today) -> Starlette:
    def open_store() -> Store:
        return Store(store_path, read_only=True)

    def period_of(request: Request, bulk: bool = False) -> tuple[dt.date, dt.date]:
        start, end = parse_period(request.path_params["period"], today())
        limit = MAX_BULK_DAYS if bulk else MAX_DAYS
        if (end - start).days + 1 > limit:
            raise PeriodError(f"exceeded max days of {limit}")
        return start, end

    def packages_of(request: Request) -> list[str] | None:
        names = request.path_params.get("package")
        if not names:
            return None
        packages = [name for name in names.split(",") if name]
        if len(packages) > MAX_BULK_PACKAGES:
            raise PeriodError(f"bulk queries are limited to {MAX_BULK_PACKAGES} packages")
        return packages

    def point(request: Request) -> JSONResponse:
        return answer(request, range_=False)

    def range_(request: Request) -> JSONResponse:
        return answer(request, range_=True)

    def answer(request: Request, range_: bool) -> JSONResponse:
        try:
            packages = packages_of(request)
            start, end = period_of(request, bulk=bool(packages and len(packages) > 1))
        except PeriodError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        store = open_store()
        try:
            if packages is None:
                return JSONResponse(_document(store, None, start, end, range_))
            if len(packages) == 1:
                package = packages[0]
                if not store.known(package):
                    return JSONResponse({"error": f"package {package} not found"}, status_code=404)
                return JSONResponse(_document(store, package, start, end, range_))
            return JSONResponse(
                {p: _document(store, p, start, end, range_) if store.known(p) else None for p in packages}
            )
        finally:
            store.close()

    def versions(request: Request) -> JSONResponse:
        package = request.path_params["package"]
        try:
            start, end = period_of(request)
        except PeriodError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        store = open_store()
        try:
            if not store.known(package):
                return JSONResponse({"error": f"package {package} not found"}, status_code=404)
            return JSONResponse({"package": package, "downloads": store.by_version(package, start, end)})
        finally:
            store.close()

    return Starlette(
        routes=[
            Route("/downloads/point/{period}", point),
            Route("/downloads/point/{period}/{package:path}", point),
            Route("/downloads/range/{period}", range_),
            Route("/downloads/range/{period}/{package:path}", range_),
            Route("/versions/{package:path}/{period}", versions),
        ]
    )


def _document(store: Store, package: str | None, start: dt.date, end: dt.date, range_: bool) -> dict[str, object]:
    daily = store.daily(package, start, end)
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
