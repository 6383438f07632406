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
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_STRING_ESCAPES = str.maketrans({'"': r"\"", "\\": r"\\"})
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")

#: Event keys that are never tags: they are the measurement, the value and the time.
RESERVED = frozenset({"name", "value", "time"})
CACHE_LIMIT = 100_000


def escape_measurement(name: str) -> str:
    return name.translate(_MEASUREMENT_ESCAPES)


def escape_key(key: str) -> str:
    return key.translate(_KEY_ESCAPES)


def escape_tag_value(value: str) -> str:
    escaped = value.translate(_KEY_ESCAPES)
    return escaped + " " if escaped.endswith("\\") else escaped  # as Point does: keep the escape off the comma


def float_text(value: float) -> str:
    """A float as Point writes it: shortest repr, without the ".0" of a whole number."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def format_field(value: object) -> str | None:
    """A field value as Point writes it, or None when Point would leave it out."""
    if value.__class__ is float:
        return float_text(value) if math.isfinite(value) else None
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
    """Encodes events as lines; remembers escaped names and series (bounded).

    ``fields`` are event keys written as fields beside ``value``; ``tags``, when given,
    are the only keys written as tags (else every other scalar key is). numbat's values
    are JavaScript numbers, so by default integers are written as floats: a measurement
    that saw 1 and then 1.5 would otherwise meet a field type conflict.

    :meth:`encode_all` is the sink's path: it also applies ``skip`` (events not to
    write, by name) and ``admit`` (the cardinality guard, per new series), and caches
    every admitted series, so a known series costs one lookup.
    """

    def __init__(
        self,
        fields: Collection[str] = (),
        tags: Collection[str] = (),
        integers_as_floats: bool = True,
        *,
        skip: Callable[[str], bool] | None = None,
        admit: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.fields = frozenset(fields)
        self.tags = frozenset(tags)
        self.integers_as_floats = integers_as_floats
        self._not_tags = RESERVED | self.fields
        self._skip = skip or (lambda name: False)
        self._admit = admit or (lambda name, series: True)
        # (name, *keys, *values) of the other fields -> the admitted series they make
        self._admitted: dict[tuple[Any, ...], str] = {}
        self._field_keys: dict[str, str] = {}

    def encode(self, event: Mapping[str, Any]) -> tuple[str, str] | None:
        """``(series, line)`` for one event, or None when it has nothing to write: no
        value or field, or a name no line can carry (one starting with ``#``, a comment
        to InfluxDB, or ending with a backslash, which would escape the space after it).
        The series, the measurement and tags as written, is what the cardinality guard
        counts."""
        name = event["name"]
        if name.startswith("#") or name.endswith("\\"):
            return None
        rest = {key: value for key, value in event.items() if key not in self._not_tags}
        series = _series(name, self._tag_items(rest))
        fields = self._fields(event.get("value"), [(k, event[k]) for k in self.fields if k in event])
        if not fields:
            return None
        time = event.get("time")
        return series, (f"{series} {fields} {time}" if time.__class__ is int else f"{series} {fields}")

    def encode_all(self, events: Iterable[Mapping[str, Any]]) -> tuple[list[str], dict[str, int]]:
        """Lines for the events worth writing, and how many were left out, by reason."""
        lines: list[str] = []
        append = lines.append
        left_out = {"skipped": 0, "no line": 0, "cardinality": 0}
        admitted = self._admitted
        general = bool(self.fields) or not self.integers_as_floats
        for event in events:
            rest = dict(event)
            name = rest.pop("name")
            value = rest.pop("value", None)
            time = rest.pop("time", None)
            try:
                key: tuple[Any, ...] | None = (name, *rest, *rest.values())
                series = admitted.get(key)  # type: ignore[arg-type]
            except TypeError:  # a list or an object among the fields: never cached
                series, key = None, None
            if series is None or general:
                line = self._encode_new(event, name, rest, key, left_out)
                if line is not None:
                    append(line)
                continue
            if value.__class__ is float and value - value == 0:  # finite; float_text(), inlined
                text = repr(value)
                if text.endswith(".0"):
                    text = text[:-2]
            elif value.__class__ is int and -(10**16) < value < 10**16:
                text = str(value)  # what the float would print, without its ".0"
            else:
                encoded = self.encode(event)
                if encoded is None:
                    left_out["no line"] += 1
                else:
                    append(encoded[1])
                continue
            append(f"{series} value={text} {time}" if time.__class__ is int else f"{series} value={text}")
        return lines, left_out

    def _encode_new(
        self,
        event: Mapping[str, Any],
        name: str,
        rest: dict[str, Any],
        key: tuple[Any, ...] | None,
        left_out: dict[str, int],
    ) -> str | None:
        """The slow path: a series not seen (or not cacheable), checked and remembered."""
        if self._skip(name):
            left_out["skipped"] += 1
            return None
        encoded = self.encode(event)
        if encoded is None:
            left_out["no line"] += 1
            return None
        series, line = encoded
        if not self._admit(name, series):
            left_out["cardinality"] += 1
            return None
        if key is not None and len(self._admitted) < CACHE_LIMIT and _cacheable(rest):
            self._admitted[key] = series
        return line

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
        return float_text(value)
    return str(value)
