"""``numbat-logs serve``: the downloads API, the downloads page and badges on hypercorn,
until a signal.

Strategy: the store's schema is created (or upgraded) first, so a fresh store answers
(empty) at once and the API's read-only stores find the schema they read;
hypercorn runs on trio and stops at SIGTERM or SIGINT through its shutdown trigger.
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
from collections.abc import Callable

import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

from .._api import create_app, json_protocol_errors
from .._api_periods import utc_today
from .._caching import CachePolicy
from .._cors import ANY_ORIGIN
from ..page import PageOptions
from ..store import StoreError, open_store


def run(args: argparse.Namespace, today: Callable[[], dt.date] = utc_today) -> int:
    """Serve until a signal. ``today`` is the day the API and the page take for today: UTC's
    by the wall clock; a test hands in a fixed day, so that midnight passing mid-run moves
    nothing."""
    try:
        open_store(args.db).close()  # created, or upgraded, before the readers open it
    except StoreError as exc:
        print(f"numbat-logs: {exc}", file=sys.stderr)
        return 2
    config = Config()
    config.bind = [args.listen]
    config.accesslog = None
    json_protocol_errors()
    app = create_app(
        args.db,
        today,
        cors_origins=args.cors_origin or [ANY_ORIGIN],
        cache=CachePolicy(max_age=args.max_age, live_max_age=args.live_max_age),
        max_range_days=args.max_range_days,
        page=PageOptions(refresh_seconds=args.page_refresh),
    )
    trio.run(_serve_until_signalled, app, config)
    return 0


async def _serve_until_signalled(app: object, config: Config) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:

        async def stop_requested() -> None:
            async for _ in signals:
                return

        await hypercorn_serve(app, config, shutdown_trigger=stop_requested)  # type: ignore[arg-type]
