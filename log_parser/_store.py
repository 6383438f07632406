"""The downloads store, by its former name: :mod:`log_parser.store` holds it now (SQLite
and PostgreSQL). ``Store(location)`` opens either."""

from __future__ import annotations

from .store import (
    BackfilledObject,
    DayCounts,
    FileRecord,
    ObjectRecord,
    ObjectRows,
    Store,
    object_rows,
    open_store,
    to_day_counts,
)

__all__ = [
    "BackfilledObject",
    "DayCounts",
    "FileRecord",
    "ObjectRecord",
    "ObjectRows",
    "Store",
    "object_rows",
    "open_store",
    "to_day_counts",
]
