"""The page's and the badge's routes, served by ``numbat-logs serve`` beside the API:
``/`` (the downloads page), ``/page/live.js`` (its one script) and
``/badge/{pkg}/{period}.svg``.

Strategy: each route reads the query, asks the store, hands plain figures to the pure
parts (:mod:`._figures`, :mod:`._html`, :mod:`._svg`, :mod:`._badge`) and answers
through :func:`log_parser._answers.cached_answer` (ETag, Cache-Control, 304). Periods
are read by the API's own rules (:class:`log_parser._api_periods.Periods`), so the page
and the badge answer the same periods as the API. A bad query is said on the page, with
last month shown instead; a badge that cannot count says why in the badge (404 or 400),
since an image is what a README shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._answers import cached_answer
from .._api_periods import ALL_TIME, Periods
from .._caching import CachePolicy
from ..core._periods import PeriodError
from ..store import Store
from ._badge import MAX_LABEL, MISSING_COLOUR, Badge, badge_svg, count_message
from ._figures import totals, version_split, weekly_totals
from ._html import PackageView, PageView, render_page

DEFAULT_PERIOD = "last-month"
SVG = "image/svg+xml"


@dataclass(frozen=True)
class PageOptions:
    """The page's bounds: packages compared on one chart, versions listed before the rest
    is ``other``, names suggested for one not found, seconds between refreshes of
    today's count (``serve --page-refresh``)."""

    max_packages: int = 5
    top_versions: int = 8
    suggestions: int = 10
    refresh_seconds: int = 30

    def __post_init__(self) -> None:
        if not 1 <= self.max_packages <= 5:
            raise ValueError("max_packages: the chart has styles for 1 to 5 packages")
        for name in ("top_versions", "suggestions", "refresh_seconds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be 1 or more")


def page_routes(
    open_store: Callable[[], Store],
    today: Callable[[], dt.date],
    cache: CachePolicy,
    options: PageOptions,
    max_range_days: int,
) -> list[Route]:
    script = resources.files(__package__).joinpath("live.js").read_bytes()

    def page(request: Request) -> Response:
        periods = Periods(today(), max_range_days)
        store = open_store()
        try:
            view = _page_view(request, store, periods, options)
        finally:
            store.close()
        body = render_page(view).encode()
        # the page shows today's count: it ages as live answers do
        return cached_answer(request, body, "text/html; charset=utf-8", end=None, today=periods.today, policy=cache)

    def live_script(request: Request) -> Response:
        return cached_answer(
            request, script, "text/javascript; charset=utf-8", end=dt.date.min, today=today(), policy=cache
        )

    def badge(request: Request) -> Response:
        package, period = request.path_params["package"], request.path_params["period"]
        label = request.query_params.get("label", "downloads")[:MAX_LABEL]
        periods = Periods(today(), max_range_days)

        def answer(badge: Badge, status: int = 200, end: dt.date | None = None) -> Response:
            body = badge_svg(badge).encode()
            return cached_answer(request, body, SVG, end=end, today=periods.today, policy=cache, status=status)

        try:
            periods.check(period, bulk=False)
            store = open_store()
            try:
                if not store.known(package):
                    return answer(Badge(label, "package not found", MISSING_COLOUR), 404)
                start, end = periods.resolve(period, store, package)
                downloads = sum(store.daily(package, start, end).values())
            finally:
                store.close()
        except PeriodError as exc:
            return answer(Badge(label, str(exc), MISSING_COLOUR), 400)
        return answer(Badge(label, count_message(downloads, period)), end=end)

    return [
        Route("/", page),
        Route("/page/live.js", live_script),
        Route("/badge/{package:path}/{period}.svg", badge),
    ]


def asked_names(query: str) -> list[str]:
    """The names in the search box: separated by commas, spaces around them dropped,
    each once, in order."""
    return list(dict.fromkeys(name.strip() for name in query.split(",") if name.strip()))


def asked_period(request: Request) -> str:
    """``period`` (any the API takes), else ``start`` and ``end`` (the form's dates; one
    alone is that day), else last month."""
    period = request.query_params.get("period", "").strip()
    if period:
        return period
    start = request.query_params.get("start", "").strip()
    end = request.query_params.get("end", "").strip()
    if start or end:
        return f"{start or end}:{end or start}"
    return DEFAULT_PERIOD


def _page_view(request: Request, store: Store, periods: Periods, options: PageOptions) -> PageView:
    query = request.query_params.get("package", "").strip()
    names = asked_names(query)
    errors: list[str] = []
    if len(names) > options.max_packages:
        errors.append(f"At most {options.max_packages} packages on one chart: the first {options.max_packages} shown.")
        names = names[: options.max_packages]
    found = store.known_among(names)
    known = [name for name in names if name in found]
    missing = [name for name in names if name not in known]
    period = asked_period(request)
    try:
        start, end = _days(period, store, known, periods)
    except PeriodError as exc:
        errors.append(f"{period}: {exc}; last month shown.")
        start, end = periods.resolve(DEFAULT_PERIOD, store, None)
    days = [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]
    packages = []
    daily = store.daily_of(known, start, end)
    today = store.daily_of(known, periods.today, periods.today)
    for name in known:
        values = totals(daily.get(name, {}), days)
        top = store.top_versions(name, start, end, options.top_versions)
        packages.append(
            PackageView(
                name=name,
                values=values,
                weeks=weekly_totals(days, values),
                versions=version_split(top, sum(values)),
                today=today.get(name, {}).get(periods.today, 0),
            )
        )
    suggestions = store.packages_starting(missing[0], options.suggestions) if missing else []
    return PageView(
        query=", ".join(names) if names else query,
        start=start,
        end=end,
        today=periods.today,
        refresh_seconds=options.refresh_seconds,
        packages=packages,
        missing=missing,
        suggestions=suggestions,
        errors=errors,
    )


def _days(period: str, store: Store, known: list[str], periods: Periods) -> tuple[dt.date, dt.date]:
    """The chart's days: the period's, by the API's rules; ``all-time`` from the first
    day of the earliest of the packages shown."""
    if period == ALL_TIME and known:
        firsts = [periods.resolve(ALL_TIME, store, name)[0] for name in known]
        return min(firsts), periods.today
    return periods.resolve(period, store, known[0] if len(known) == 1 else None)
