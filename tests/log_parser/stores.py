"""Reading a store another process writes, whichever backend: for tests that wait for
a live job or a backfill."""

from __future__ import annotations

import datetime as dt

from log_parser.store import StoreError, open_store


def stored_daily(location: str, package: str | None, start: dt.date, end: dt.date) -> dict[dt.date, int]:
    """The store's daily downloads; {} while the store or its schema is not there yet."""
    try:
        store = open_store(location, read_only=True)
    except StoreError:
        return {}
    try:
        return store.daily(package, start, end)
    finally:
        store.close()


def stored_total(location: str, package: str | None, start: dt.date, end: dt.date) -> int:
    return sum(stored_daily(location, package, start, end).values())


def store_ready(location: str) -> bool:
    """Whether the store is there with its schema (a writer has opened it)."""
    try:
        open_store(location, read_only=True).close()
    except StoreError:
        return False
    return True
