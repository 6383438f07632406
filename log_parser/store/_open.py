"""Which backend a store's location names, and opening it.

Strategy: the backends import the interface (``_base.py``); this module imports them (the
PostgreSQL one only when a URL names it: psycopg is needed for it alone) and gives the
interface its ``backend_for``, so that ``Store(location)`` opens the right one.
"""

from __future__ import annotations

from ._base import Store, is_postgresql


def backend_for(location: str) -> type[Store]:
    """The store class of a location: PostgreSQL for a ``postgresql://`` (or
    ``postgres://``) URL, loaded only then (psycopg is needed for it alone); SQLite for
    anything else, a file's path."""
    if is_postgresql(location):
        from ._postgresql import PostgreSQLStore  # noqa: PLC0415 - psycopg only for a PostgreSQL store

        return PostgreSQLStore
    from ._sqlite import SQLiteStore  # noqa: PLC0415 - the two modules import this one

    return SQLiteStore


def open_store(location: str, *, read_only: bool = False, bulk_writer: bool = False) -> Store:
    """The store at ``location`` (a SQLite file's path or a ``postgresql://`` URL), its
    schema created or upgraded unless ``read_only``. StoreError (SchemaError for a
    schema it cannot use) when it cannot be opened."""
    return Store(location, read_only=read_only, bulk_writer=bulk_writer)


Store.backend_for = staticmethod(backend_for)  # type: ignore[method-assign]
