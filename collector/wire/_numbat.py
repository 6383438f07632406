"""numbat's own format: one JSON object per line (newline-delimited JSON).

An event complete as sent (an int ``time`` within range, a number for ``value``) is the
common case and passes with its line, untouched, after one look at three keys. Any other
is completed by numbat's own rules (:func:`emitter.event.complete_event`: the emitter
fills the same defaults, so an event means the same on both sides), checked, and encoded
again here, once, for every sink.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import orjson

from emitter.event import Event, complete_event

from ._batch import TIME_RANGE_MS, Batch
from ._decoding import DecodeError, Decoder, checked_time, iso_to_ms

_NUMBERS = (int, float)  # exact classes: bool is checked apart
_EARLIEST, _LATEST = TIME_RANGE_MS


class NumbatDecoder(Decoder):
    """``{"name": ..., "value": ..., "time": ...}`` per line.

    ``name`` is required; ``value`` defaults to 1 and ``time`` to the moment of
    arrival, as numbat-collector's sinks assumed. A ``time`` given as an ISO 8601
    string (what numbat-emitter sends for a JavaScript Date) becomes ms.

    What cannot be encoded again (nesting deeper than orjson writes) is refused now
    rather than lost in a sink. ``"value": null``, what numbat-emitter sends for NaN and
    the infinities, is refused with its own reason; numbat-collector wrote it to
    InfluxDB as 1.
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
                _check(complete_event(event, now_ms))
                completed = dumps(event)
            except DecodeError as exc:
                batch.reject(str(exc), line)
                continue
            except encode_error:
                batch.reject("nested too deeply to encode", line)
                continue
            add_event(event)
            add_raw(completed)


def _check(event: Event) -> None:
    """Make a completed event's ``time`` ms since the epoch and check its ``value``;
    DecodeError when either is unusable."""
    event["time"] = _time_ms(event["time"])
    value = event["value"]
    if value is None:
        raise DecodeError("value is null (NaN or infinite at the sender)")
    if value.__class__ not in _NUMBERS and value.__class__ is not bool:
        raise DecodeError("value is not a number")


def _time_ms(time: object) -> int:
    if time.__class__ is int:
        return checked_time(time)
    if isinstance(time, float) and math.isfinite(time):
        return checked_time(round(time))
    if isinstance(time, str):
        return iso_to_ms(time)
    raise DecodeError("time is neither ms since the epoch nor an ISO 8601 date")
