"""Events to InfluxDB line protocol. Sans-I/O.

numbat's mapping: the measurement is the event's name, the field ``value`` its value,
the timestamp its time in ms, and the other scalar fields become tags (or fields, for
the keys configured so). An aggregation's summary (an encoder made with ``summaries``,
for a sink whose input is an aggregation) is one point with a field per statistic, as
Telegraf's statsd input writes: its ``kind`` and key fields are the tags. The output
is byte-for-byte what influxdb-client's ``Point.to_line_protocol()`` writes for the same
point (tags and fields sorted, the same escapes, whole floats without ``.0``), which the
property tests check, at a fraction of its cost: an event of a series already written costs a lookup of its cached line
prefix, and the numbers of a run of such events are formatted together.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from operator import itemgetter
from typing import Any

import orjson

from ...aggregate._options import KINDS
from ...aggregate._summary import is_statistic

_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_STRING_ESCAPES = str.maketrans({'"': r"\"", "\\": r"\\"})
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")

#: Event keys that are never tags: they are the measurement, the value and the time.
RESERVED = frozenset({"name", "value", "time"})
CACHE_LIMIT = 100_000  #: series remembered
SHAPE_LIMIT = 10_000  #: key sets remembered
_EXACT = 2**53  #: integers a float holds exactly, so written alike either way
#: The kinds of an aggregation's summaries.
SUMMARY_KINDS = frozenset(KINDS)


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
        admit: Callable[[str, str], str | None] | None = None,
        summaries: bool = False,
    ) -> None:
        self.fields = frozenset(fields)
        self.summaries = summaries
        self.tags = frozenset(tags)
        self.integers_as_floats = integers_as_floats
        self._not_tags = RESERVED | self.fields
        self._skip = skip or (lambda name: False)
        self._admit = admit or (lambda name, series: None)
        #: Plain lines, "<series> value=<float> <time>", need no configured fields, and
        #: integers written as floats (and are no summaries).
        self.plain = not self.fields and integers_as_floats and not summaries
        self._general = not self.plain
        # the keys of events (in order) -> how to find the admitted series they make
        self._shapes: dict[tuple[str, ...], _Shape | None] = {}
        self._cached = 0
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
        if self.summaries and event.get("kind").__class__ is str and event["kind"] in SUMMARY_KINDS:
            series, fields = self._summary(name, event)
        else:
            rest = {key: value for key, value in event.items() if key not in self._not_tags}
            series = _series(name, self._tag_items(rest))
            fields = self._fields(event.get("value"), [(k, event[k]) for k in self.fields if k in event])
        if not fields:
            return None
        time = event.get("time")
        return series, (f"{series} {fields} {time}" if time.__class__ is int else f"{series} {fields}")

    def _summary(self, name: str, event: Mapping[str, Any]) -> tuple[str, str]:
        """A summary's series and fields: a field per statistic (and per configured field),
        its kind and key fields the tags. The aggregation names a key field that looks
        like a statistic ``key_<field>``, so the two are told apart by name."""
        fields = [(key, value) for key, value in event.items() if is_statistic(key) or key in self.fields]
        rest = {
            key: value
            for key, value in event.items()
            if key not in _SUMMARY_NOT_TAGS and key not in self.fields and not is_statistic(key)
        }
        return _series(name, self._tag_items(rest)), self._fields(None, fields)

    def encode_all(self, events: Iterable[Mapping[str, Any]]) -> tuple[list[bytes], dict[str, int]]:
        """Lines for the events worth writing, in order, and how many were left out, by reason.

        An event of a known series whose value and time are plain numbers costs a lookup:
        its line is the series' cached prefix, and the numbers of a whole run of such
        events are formatted by one ``orjson.dumps`` call. Anything else takes the slow
        path, which checks it (skip, cardinality guard) and teaches the cache.
        """
        lines: list[bytes] = []
        left_out = {"skipped": 0, "no line": 0}
        if self._general:
            for event in events:
                line = self._encode_new(event, left_out)
                if line is not None:
                    lines.append(line.encode())
            return lines, left_out
        prefixes: list[bytes] = []  # the run of known series: each line's "<series> value="
        numbers: list[tuple[Any, ...]] = []  # and its (value, time)
        shapes = self._shapes
        size, get, known = -1, _no_shape.get, _no_shape.prefixes  # the shape of the last event
        for event in events:
            prefix = None
            if len(event) == size:
                try:
                    got = get(event)
                    prefix = known.get(got[2:])
                except (KeyError, TypeError):  # other keys, as many; a value that cannot be hashed
                    pass
            if prefix is None and (shape := shapes.get(tuple(event))) is not None:
                size, get, known = shape.size, shape.get, shape.prefixes
                with contextlib.suppress(TypeError):
                    got = get(event)
                    prefix = known.get(got[2:])
            if prefix is not None:
                value = got[0]
                kind = value.__class__
                if (kind is float or (kind is int and -_EXACT < value < _EXACT)) and got[1].__class__ is int:
                    prefixes.append(prefix)
                    numbers.append(got[:2])
                    continue
            if prefixes:
                lines += _format_run(prefixes, numbers, left_out)
                prefixes, numbers = [], []
            line = self._encode_new(event, left_out)
            if line is not None:
                lines.append(line.encode())
        if prefixes:
            lines += _format_run(prefixes, numbers, left_out)
        return lines, left_out

    def _learn_shape(self, event: Mapping[str, Any]) -> _Shape | None:
        """How events with these keys are looked up: which of their values make the series."""
        keys = tuple(event)
        if "name" not in event or "value" not in event or "time" not in event or len(self._shapes) >= SHAPE_LIMIT:
            return None
        only = self.tags
        identity = [key for key in keys if key not in self._not_tags and (not only or key in only)]
        shape = self._shapes[keys] = _Shape(itemgetter("value", "time", "name", *identity), len(keys))
        return shape

    def _encode_new(self, event: Mapping[str, Any], left_out: dict[str, int]) -> str | None:
        encoded = self.encode_checked(event, left_out)
        return None if encoded is None else encoded[1]

    def encode_checked(self, event: Mapping[str, Any], left_out: dict[str, int]) -> tuple[str, str] | None:
        """The slow path: ``(series, line)`` for an event not known to the cache, checked
        (skip, cardinality guard; what is left out is counted in ``left_out``) and
        remembered when its series can be."""
        name = event["name"]
        if self._skip(name):
            left_out["skipped"] += 1
            return None
        encoded = self.encode(event)
        if encoded is None:
            left_out["no line"] += 1
            return None
        series = encoded[0]
        refused = self._admit(name, series)
        if refused is not None:
            left_out[refused] = left_out.get(refused, 0) + 1
            return None
        if not self._general and self._cached < CACHE_LIMIT:
            self._remember_series(event, series)
        return encoded

    def _remember_series(self, event: Mapping[str, Any], series: str) -> None:
        shape = self._shapes.get(tuple(event)) or self._learn_shape(event)
        if shape is None:
            return
        identity = shape.get(event)[2:]
        try:
            hash(identity)
        except TypeError:  # a list or an object among the values: never cached
            return
        if _cacheable(identity) and identity not in shape.prefixes:
            shape.prefixes[identity] = f"{series} value=".encode()
            self._cached += 1

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
_SUMMARY_NOT_TAGS = frozenset({"name", "time"})


class _Shape:
    """Events with one set of keys: ``get`` takes (value, time, name, *tag candidates)
    from such an event, and ``prefixes`` maps (name, *tag candidates) to the admitted
    series' line prefix."""

    __slots__ = ("get", "prefixes", "size")

    def __init__(self, get: Callable[[Mapping[str, Any]], tuple[Any, ...]], size: int) -> None:
        self.get = get
        self.size = size
        self.prefixes: dict[tuple[Any, ...], bytes] = {}


_no_shape = _Shape(lambda event: (), -1)


def _cacheable(identity: tuple[Any, ...]) -> bool:
    """True == 1 == 1.0 as dict keys, yet a tag True is written "true" and 1 is "1": a
    series whose non-text values include 0 or 1 is not cached, so none can be confused."""
    return not any(value in (0, 1) for value in identity if value.__class__ is not str)


def _format_run(prefixes: list[bytes], numbers: list[tuple[Any, ...]], left_out: dict[str, int]) -> list[bytes]:
    """The lines of a run of known series: prefix, value as Point writes it, time.

    orjson writes the shortest round-trip digits, as ``repr`` does, so its text is
    Point's but for whole floats ("1.0", where Point writes "1": the ``.0`` before a
    comma is cut), non-finite values (``null``) and the notation of very large or small
    magnitudes (exponents; orjson writes 1e-5 as "0.00001"): runs that contain any of
    these are written number by number instead.
    """
    try:
        text = orjson.dumps(numbers)
    except orjson.JSONEncodeError:  # a time beyond 64 bits
        return _format_each(prefixes, numbers, left_out)
    if b"e" in text or b"null" in text or b"0.0000" in text:
        return _format_each(prefixes, numbers, left_out)
    tails = text[2:-2].replace(b".0,", b",").replace(b",", b" ").split(b"] [")
    return list(map(bytes.__add__, prefixes, tails))


def _format_each(prefixes: list[bytes], numbers: list[tuple[Any, ...]], left_out: dict[str, int]) -> list[bytes]:
    lines = []
    for prefix, (value, time) in zip(prefixes, numbers, strict=True):
        number = float(value)
        if math.isfinite(number):
            lines.append(b"%s%s %d" % (prefix, float_text(number).encode(), time))
        else:
            left_out["no line"] += 1  # Point leaves a non-finite field out: no field, no line
    return lines


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
