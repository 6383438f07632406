"""The downloads store: daily counts per package and version, in SQLite (the embedded
default, one file) or PostgreSQL (one server database for several hosts writing at once).

``open_store(location)`` opens the one a location names: a ``postgresql://`` URL, or a
SQLite file's path; its schema is created, or upgraded in place, by the program (a
schema newer than the program's is refused: :class:`SchemaError`). The semantics, the
same for both, are in ``_base.py``; each backend's SQL in ``_sqlite.py`` and
``_postgresql.py``; what is written, in ``_model.py``.
"""

from __future__ import annotations

from ._base import SCHEMA_VERSION, SchemaError, Store, StoreError, describe, is_postgresql
from ._model import (
    ALL_PACKAGES,
    BackfilledObject,
    DayCounts,
    FileRecord,
    ObjectRecord,
    ObjectRows,
    object_rows,
    to_day_counts,
)
from ._open import backend_for, open_store

__all__ = [
    "ALL_PACKAGES",
    "SCHEMA_VERSION",
    "BackfilledObject",
    "DayCounts",
    "FileRecord",
    "ObjectRecord",
    "ObjectRows",
    "SchemaError",
    "Store",
    "StoreError",
    "backend_for",
    "describe",
    "is_postgresql",
    "object_rows",
    "open_store",
    "to_day_counts",
]
