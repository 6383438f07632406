"""InfluxDB line protocol, with its escaping rules.

``measurement[,tag=value...] field=value[,field=value...] [timestamp]``. Measurement
names escape commas and spaces; tag keys, tag values and field keys escape commas,
equals signs and spaces; string field values escape double quotes and backslashes.
A line that starts with ``#`` is a comment. Only the ASCII space separates; ``\\n`` stays two
characters, as InfluxDB stores it. A string field cannot hold a newline
(lines are split on newlines first, as InfluxDB 1.x does).
"""

from __future__ import annotations

import math
import re

from emitter.event import Event

from ._decoding import DECIMAL, TO_MS, DecodeError, TextLineDecoder, checked_time

_KEY = r"(?:[^,= \\]|\\.)+"
_FIELD_VALUE = r'(?:"(?:[^"\\]|\\.)*"|[^, "]+)'
_LINE = re.compile(
    rf"""(?P<measurement>(?:[^, \\]|\\.)+)
        (?P<tags>(?:,{_KEY}={_KEY})*)
        [ ]+
        (?P<fields>{_KEY}={_FIELD_VALUE}(?:,{_KEY}={_FIELD_VALUE})*)
        (?:[ ]+(?P<timestamp>-?[0-9]+))?
        [ \t\r]*""",
    re.VERBOSE | re.DOTALL,
)
_TAG = re.compile(rf"({_KEY})=({_KEY})")
_FIELD = re.compile(rf"({_KEY})=({_FIELD_VALUE})")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_MEASUREMENT_ESCAPE = re.compile(r"\\([, ])")
_KEY_ESCAPE = re.compile(r"\\([,= ])")
_STRING_ESCAPE = re.compile(r'\\(["\\])')
_TRUE = frozenset({"t", "T", "true", "True", "TRUE"})
_FALSE = frozenset({"f", "F", "false", "False", "FALSE"})
INT64 = (-(2**63), 2**63 - 1)
UINT64 = (0, 2**64 - 1)


class InfluxDecoder(TextLineDecoder):
    """One event per field: a field named ``value`` keeps the measurement's name, any
    other is named ``measurement.field``, numbat's one-value-per-event shape (as
    Telegraf's graphite output does). Tags become fields of every event of the line.

    ``precision`` is the unit of the timestamps (``ns``, ``us``, ``ms``, ``s``; also
    InfluxDB 1.x's ``n``, ``u``, ``m``, ``h``); times are kept in ms.
    """

    format = "influx"
    comment = b"#"

    def __init__(self, precision: str = "ns") -> None:
        if precision not in TO_MS:
            raise ValueError(f"unknown precision {precision!r}; one of {', '.join(TO_MS)}")
        self.to_ms = TO_MS[precision]

    def parse_line(self, line: str, now_ms: int) -> list[Event]:
        return parse_influx_line(line, now_ms, self.to_ms)


def parse_influx_line(line: str, now_ms: int, to_ms: tuple[int, int] = TO_MS["ns"]) -> list[Event]:
    match = _LINE.fullmatch(line)
    if match is None:
        raise DecodeError("not line protocol")
    measurement = _MEASUREMENT_ESCAPE.sub(r"\1", match["measurement"])
    timestamp = match["timestamp"]
    time = now_ms if timestamp is None else checked_time(int(timestamp) * to_ms[0] // to_ms[1])
    tags = {_KEY_ESCAPE.sub(r"\1", key): _KEY_ESCAPE.sub(r"\1", value) for key, value in _TAG.findall(match["tags"])}
    events = []
    for raw_key, raw_value in _FIELD.findall(match["fields"]):
        key = _KEY_ESCAPE.sub(r"\1", raw_key)
        name = measurement if key == "value" else f"{measurement}.{key}"
        event: Event = {"name": name, "value": parse_field_value(raw_value), "time": time}
        for tag, tag_value in tags.items():
            event.setdefault(tag, tag_value)
        events.append(event)
    return events


def parse_field_value(text: str) -> float | int | bool | str:
    if text[0] == '"':
        return _STRING_ESCAPE.sub(r"\1", text[1:-1])
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    suffix = text[-1]
    if suffix in "iu":
        low, high = INT64 if suffix == "i" else UINT64
        if not _INTEGER.fullmatch(text, 0, len(text) - 1):
            raise DecodeError("bad integer field")
        number = int(text[:-1])
        if not low <= number <= high:
            raise DecodeError("integer field out of range")
        return number
    if not DECIMAL.fullmatch(text):
        raise DecodeError("bad field value")
    real = float(text)
    if not math.isfinite(real):
        raise DecodeError("value is not finite")
    return real
