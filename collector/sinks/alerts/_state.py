"""The alerts sink's state on disk: the engine's snapshot in one SQLite row.

SQLite rather than a plain file so that a save is atomic without rename tricks and a
crash mid-write leaves the previous snapshot (its journal), and so that later additions
(a history of incidents) have somewhere to go. The snapshot is the engine's JSON as a
blob (orjson); one row, replaced at each save. Saves run in a worker thread: the event
loop only encodes the JSON (which must see the engine between two calls).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson

FILE_NAME = "alerts.sqlite"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS snapshot ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), saved_ms INTEGER NOT NULL, body BLOB NOT NULL)"
)


class StateFile:
    """The SQLite file under the sink's state folder. Each call opens its own connection
    (a save runs in a worker thread, a load in the loop at open)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / FILE_NAME

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=5)
        connection.execute(_SCHEMA)
        return connection

    def load(self) -> dict[str, Any] | None:
        """The last snapshot saved, or None when there is none. ValueError when the
        file or its row is damaged."""
        if not self.path.exists():
            return None
        try:
            connection = self._connect()
            try:
                row = connection.execute("SELECT body FROM snapshot WHERE id = 1").fetchone()
            finally:
                connection.close()
            if row is None:
                return None
            state = orjson.loads(row[0])
        except (sqlite3.Error, orjson.JSONDecodeError) as exc:
            raise ValueError(f"{self.path}: {type(exc).__name__}: {exc}") from None
        if not isinstance(state, dict):
            raise ValueError(f"{self.path}: the snapshot is not a JSON object")
        return state

    def save(self, body: bytes, saved_ms: int) -> None:
        """Replace the snapshot with ``body`` (the engine's snapshot as JSON)."""
        connection = self._connect()
        try:
            with connection:
                connection.execute(
                    "INSERT OR REPLACE INTO snapshot (id, saved_ms, body) VALUES (1, ?, ?)", (saved_ms, body)
                )
        finally:
            connection.close()
