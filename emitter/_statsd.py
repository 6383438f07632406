"""Translate numbat events into statsd lines, as numbat-emitter's ``statsd:`` mode does.

The type comes from which field carries the number: ``value`` is a gauge, ``count`` a
counter, ``timing`` a timer, ``set`` a set, and an event with none of them counts 1.
``rate`` becomes the sample rate of a counter. Every other scalar field becomes a
DogStatsD tag with a sanitized key.

Where we differ from the Node original, on purpose: a field is kept out of the tags
only when its key *is* one of the reserved names (Node drops any key that merely
contains one, so ``offset`` or ``account`` silently vanished); the characters that
would break the line framing are replaced in names, values and tag values (Node let
``a|b`` through and corrupted the datagram, and an empty value made ``x:|g``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

RESERVED = frozenset({"name", "value", "time", "timing", "set", "count", "rate"})

_TAG_KEY_PUNCTUATION = re.compile(r"""[`~!@#$%^&*()|+\-=?;:'",.<>{}\[\]\\/]""")
_WHITESPACE = re.compile(r"\s+")
_NAME_UNSAFE = re.compile(r"[:|@#\s]")
_TAG_VALUE_UNSAFE = re.compile(r"[|,\s]")
#: In a value: the framing, and DogStatsD's separator of packed values.
_VALUE_UNSAFE = re.compile(r"[|:\s]")


def to_statsd(event: Mapping[str, Any]) -> str:
    """One statsd line (no newline) for ``event``."""
    metric_type, number = _type_and_value(event)
    line = f"{_NAME_UNSAFE.sub('_', str(event.get('name', '')))}:{_value_text(number)}|{metric_type}"
    rate = event.get("rate")
    if rate is not None and metric_type == "c":
        line += f"|@{format_number(rate)}"
    tags = [
        f"{sanitize_tag_key(key)}:{_TAG_VALUE_UNSAFE.sub('_', format_number(val))}"
        for key, val in event.items()
        if key not in RESERVED and isinstance(val, (str, int, float))
    ]
    if tags:
        line += "|#" + ",".join(tags)
    return line


def _value_text(number: Any) -> str:
    """The value as statsd text that keeps the line whole: a string value (a set member,
    or a mistake) has the framing characters replaced, and an empty one is ``_`` (the
    collector refuses it with its reason instead of misreading the line)."""
    return _VALUE_UNSAFE.sub("_", format_number(number)) or "_"


def _type_and_value(event: Mapping[str, Any]) -> tuple[str, Any]:
    for key, metric_type in (("value", "g"), ("count", "c"), ("timing", "ms"), ("set", "s")):
        number = event.get(key)
        if number is not None:
            return metric_type, number
    return "c", 1


def sanitize_tag_key(key: str) -> str:
    """numbat-emitter's rule: punctuation to ``_``, each run of white space to one ``_``."""
    return _WHITESPACE.sub("_", _TAG_KEY_PUNCTUATION.sub("_", key))


def format_number(value: Any) -> str:
    """Render a scalar the way JavaScript's ``String()`` does, so lines match Node's."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return str(value)
