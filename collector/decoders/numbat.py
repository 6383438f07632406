"""numbat's own format: one JSON object per line (newline-delimited JSON)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import orjson

from ..events import Batch
from .base import DecodeError, Decoder, iso_to_ms

_NUMBERS = (int, float)


class NumbatDecoder(Decoder):
    """``{"name": ..., "value": ..., "time": ...}`` per line.

    ``name`` is required; ``value`` defaults to 1 and ``time`` to the moment of
    arrival, as numbat-collector's sinks assumed. A ``time`` given as an ISO 8601
    string (what numbat-emitter sends for a JavaScript Date) becomes ms.
    """

    format = "numbat"

    def decode(self, lines: Iterable[bytes], now_ms: int, batch: Batch) -> None:
        loads = orjson.loads
        add_event, add_raw = batch.events.append, batch.raw.append
        for line in lines:
            try:
                event = loads(line)
            except orjson.JSONDecodeError:
                if line.strip():  # blank lines are framing, not errors
                    batch.reject("invalid JSON", line)
                continue
            if event.__class__ is not dict:
                batch.reject("not a JSON object", line)
                continue
            name = event.get("name")
            if name.__class__ is not str or not name:
                batch.reject("no name", line)
                continue
            exact = True
            time = event.get("time")
            if time.__class__ is not int:
                try:
                    event["time"] = _normalize_time(time, now_ms)
                except DecodeError as exc:
                    batch.reject(str(exc), line)
                    continue
                exact = False
            value = event.get("value", _MISSING)
            if value.__class__ not in _NUMBERS:
                if value is _MISSING:
                    event["value"] = 1
                    exact = False
                elif value.__class__ is not bool:
                    batch.reject("value is not a number", line)
                    continue
            add_event(event)
            add_raw(line if exact else None)


_MISSING = object()


def _normalize_time(time: object, now_ms: int) -> int:
    if time is None:
        return now_ms
    if isinstance(time, float) and math.isfinite(time):
        return round(time)
    if isinstance(time, str):
        return iso_to_ms(time)
    raise DecodeError("time is neither ms since the epoch nor an ISO 8601 date")
