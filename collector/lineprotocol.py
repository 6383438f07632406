"""Events to InfluxDB line protocol. Sans-I/O.

numbat's mapping: the measurement is the event's name, the field ``value`` its value,
the timestamp its time in ms, and the other scalar fields become tags (or fields, for
the keys configured so). The output is byte-for-byte what influxdb-client's
``Point.to_line_protocol()`` writes for the same point (tags and fields sorted, the
same escapes, whole floats without ``.0``), which the property tests check; it is
several times faster, because escaped names and keys are cached and nothing is built
that is not written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from typing import Any

_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_STRING_ESCAPES = str.maketrans({'"': r"\"", "\\": r"\\"})
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")

#: Event keys that are never tags: they are the measurement, the value and the time.
RESERVED = frozenset({"name", "value", "time"})
CACHE_LIMIT = 100_000
SeriesKey = tuple[str, tuple[tuple[str, Any], ...]]


def escape_measurement(name: str) -> str:
    return name.translate(_MEASUREMENT_ESCAPES)


def escape_key(key: str) -> str:
    return key.translate(_KEY_ESCAPES)


def escape_tag_value(value: str) -> str:
    escaped = value.translate(_KEY_ESCAPES)
    return escaped + " " if escaped.endswith("\\") else escaped  # as Point does: keep the escape off the comma


def format_field(value: object) -> str | None:
    """A field value as Point writes it, or None when Point would leave it out."""
    if value.__class__ is float:
        if not math.isfinite(value):
            return None
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value.__class__ is int:
        return f"{value}i"
    if isinstance(value, str):
        return f'"{value.translate(_STRING_ESCAPES)}"'
    if value is None:
        return None
    raise ValueError(f"a field cannot hold {type(value).__name__}")


def sanitize_key(key: str) -> str:
    """Tag and field keys from events: anything but letters, digits, ``_.-`` becomes ``_``."""
    return _KEY_UNSAFE.sub("_", key)


class LineEncoder:
    """Encodes events as lines; remembers escaped names and keys (bounded).

    ``fields`` are event keys written as fields beside ``value``; ``tags``, when given,
    are the only keys written as tags (else every other scalar key is). numbat's values
    are JavaScript numbers, so by default integers are written as floats: a measurement
    that saw 1 and then 1.5 would otherwise meet a field type conflict.
    """

    def __init__(
        self, fields: Collection[str] = (), tags: Collection[str] = (), integers_as_floats: bool = True
    ) -> None:
        self.fields = frozenset(fields)
        self.tags = frozenset(tags)
        self.integers_as_floats = integers_as_floats
        self._not_tags = RESERVED | self.fields
        # (name, ((key, tag text), ...)) -> series as written: events of one source
        # repeat the same few series, so most events cost one lookup here.
        self._series: dict[SeriesKey, str] = {}
        self._field_keys: dict[str, str] = {}

    def encode(self, event: Mapping[str, Any]) -> tuple[str, str] | None:
        """``(series, line)`` for one event, or None when it has nothing to write: no
        value or field, or a name no line can carry (one starting with ``#``, a comment
        to InfluxDB, or ending with a backslash, which would escape the space after it).
        The series, the measurement and tags as written, is what the cardinality guard
        counts."""
        name = event["name"]
        rest = dict(event)
        for reserved in self._not_tags:
            rest.pop(reserved, None)
        cache_key: SeriesKey | None = (name, tuple(rest.items()))
        try:
            series = self._series.get(cache_key)  # type: ignore[arg-type]
        except TypeError:  # a list or an object among the fields: never a tag, never cached
            series, cache_key = None, None
        if series is None:
            if name.startswith("#") or name.endswith("\\"):
                return None  # a comment to InfluxDB, or an escape of the space after it
            series = _series(name, self._tag_items(rest))
            if cache_key is not None and len(self._series) < CACHE_LIMIT and _cacheable(rest):
                self._series[cache_key] = series
        value = event.get("value")
        if self.fields:
            fields = self._fields(value, [(k, event[k]) for k in self.fields if k in event])
        elif value.__class__ is float and value - value == 0:  # finite; the common cases inline
            text = repr(value)
            fields = f"value={text[:-2]}" if text.endswith(".0") else f"value={text}"
        elif value.__class__ is int and self.integers_as_floats and -(10**16) < value < 10**16:
            fields = f"value={value}"  # what the float would print, without its ".0"
        else:
            fields = self._fields(value, [])
        if not fields:
            return None
        time = event.get("time")
        line = f"{series} {fields} {time}" if time.__class__ is int else f"{series} {fields}"
        return series, line

    def _tag_items(self, rest: dict[str, Any]) -> list[tuple[str, str]]:
        only = self.tags
        return [
            (key, raw if raw.__class__ is str else _tag_text(raw))
            for key, raw in rest.items()
            if raw.__class__ in _TAGGABLE and (not only or key in only)
        ]

    def _fields(self, value: object, extra: list[tuple[str, object]]) -> str:
        text = self._field_text(value)
        if not extra:
            return f"value={text}" if text is not None else ""
        pairs = [] if text is None else [("value", text)]
        for key, raw in extra:
            formatted = self._field_text(raw)
            if formatted is not None:
                pairs.append((self._field_key(key), formatted))
        fields = dict(pairs)  # two keys sanitized alike: the later wins, as in a Point
        return ",".join(f"{k}={v}" for k, v in sorted(fields.items()))

    def _field_text(self, raw: object) -> str | None:
        if self.integers_as_floats and raw.__class__ is int:
            raw = float(raw)
        try:
            return format_field(raw)
        except ValueError:
            return None  # lists and objects have no field form

    def _field_key(self, key: str) -> str:
        escaped = self._field_keys.get(key)
        if escaped is None:
            escaped = self._remember(self._field_keys, key, escape_key(sanitize_key(key)))
        return escaped

    @staticmethod
    def _remember(cache: dict[str, str], key: str, value: str) -> str:
        if len(cache) < CACHE_LIMIT:
            cache[key] = value
        return value


_TAGGABLE = frozenset({str, int, float, bool})


def _cacheable(rest: dict[str, Any]) -> bool:
    """True == 1 == 1.0 as dict keys, yet a tag True is written "true" and 1 is "1": a
    series whose non-text values include 0 or 1 is not cached, so none can be confused."""
    return not any(value in (0, 1) for value in rest.values() if value.__class__ is not str)


def _series(name: str, tags: list[tuple[str, str]]) -> str:
    """Measurement and tags as Point writes them: keys sanitized, sorted, empties left out."""
    merged = {escape_key(sanitize_key(key)): text for key, text in tags}  # alike keys: the later wins
    pairs = [f"{key}={escape_tag_value(text)}" for key, text in sorted(merged.items()) if key and text]
    measurement = escape_measurement(name)
    return f"{measurement},{','.join(pairs)}" if pairs else measurement


def _tag_text(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value.__class__ is float:
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)
