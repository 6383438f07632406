"""numbat's own format: one JSON object per line (newline-delimited JSON)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import orjson

from ..events import TIME_RANGE_MS, Batch
from .base import DecodeError, Decoder, checked_time, iso_to_ms

_NUMBERS = (int, float)  # exact classes: bool is checked apart
_EARLIEST, _LATEST = TIME_RANGE_MS


class NumbatDecoder(Decoder):
    """``{"name": ..., "value": ..., "time": ...}`` per line.

    ``name`` is required; ``value`` defaults to 1 and ``time`` to the moment of
    arrival, as numbat-collector's sinks assumed. A ``time`` given as an ISO 8601
    string (what numbat-emitter sends for a JavaScript Date) becomes ms.

    An event complete as sent is passed on with its line, untouched. One that had to be
    completed is encoded again here, once, for every sink: what cannot be (nesting
    deeper than orjson writes) is refused now rather than lost in a sink. ``"value":
    null``, what numbat-emitter sends for NaN and the infinities, is refused with its
    own reason; numbat-collector wrote it to InfluxDB as 1.
    """

    format = "numbat"

    def decode(self, lines: Iterable[bytes], now_ms: int, batch: Batch) -> None:
        loads, decode_error = orjson.loads, orjson.JSONDecodeError
        dumps, encode_error = orjson.dumps, orjson.JSONEncodeError
        add_event, add_raw = batch.events.append, batch.raw.append
        get = dict.get
        for line in lines:
            try:
                event = loads(line)
            except decode_error:
                if line.strip():  # blank lines are framing, not errors
                    batch.reject("invalid JSON", line)
                continue
            if event.__class__ is not dict:
                batch.reject("not a JSON object", line)
                continue
            name = get(event, "name")
            if name.__class__ is not str or not name:
                batch.reject("no name", line)
                continue
            time = get(event, "time")
            if time.__class__ is int and _EARLIEST <= time <= _LATEST and get(event, "value").__class__ in _NUMBERS:
                add_event(event)  # the common case: complete as sent, passed on as sent
                add_raw(line)
                continue
            try:
                _complete(event, now_ms)
                completed = dumps(event)
            except DecodeError as exc:
                batch.reject(str(exc), line)
                continue
            except encode_error:
                batch.reject("nested too deeply to encode", line)
                continue
            add_event(event)
            add_raw(completed)


def _complete(event: dict[str, object], now_ms: int) -> None:
    """Fill in or normalize ``time`` and ``value``; DecodeError when they are unusable."""
    event["time"] = _normalize_time(event.get("time"), now_ms)
    if "value" not in event:
        event["value"] = 1
    elif event["value"] is None:
        raise DecodeError("value is null (NaN or infinite at the sender)")
    elif event["value"].__class__ not in _NUMBERS and event["value"].__class__ is not bool:
        raise DecodeError("value is not a number")


def _normalize_time(time: object, now_ms: int) -> int:
    if time is None:
        return now_ms
    if time.__class__ is int:
        return checked_time(time)
    if isinstance(time, float) and math.isfinite(time):
        return checked_time(round(time))
    if isinstance(time, str):
        return iso_to_ms(time)
    raise DecodeError("time is neither ms since the epoch nor an ISO 8601 date")
