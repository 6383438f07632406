"""The shape of a summary: a numbat event per series per flush.

``{"name": <series name>, "time": <flush, ms>, "kind": "counter" | "timer" | "gauge" |
"set", <key fields>, <one field per statistic>}``. Every statistic is a float, so a
store that types its fields (InfluxDB) never sees one change type between flushes.

Key fields (DogStatsD tags, a rule's ``key_fields``) sit beside the statistics, so a
key field named like a statistic or like the summary's own fields is renamed with a
``key_`` prefix (a tag ``count`` is written ``key_count``). That keeps the two apart by
name alone: :func:`is_statistic` tells them, and :func:`graphite_paths` relies on it.
"""

from __future__ import annotations

import re
from typing import Any

Summary = dict[str, Any]
"""A summary is a numbat event (:data:`emitter.event.Event`) of the shape above."""

#: Fields of every summary that are neither statistics nor key fields.
OWN_FIELDS = frozenset({"name", "time", "kind"})
_STATISTICS = frozenset(
    {"value", "count", "rate", "count_ps", "lower", "upper", "mean", "median", "std", "sum", "sum_squares"}
)
_PER_PERCENTILE = re.compile(r"(?:count|mean|upper|lower|sum|sum_squares)_(?:top)?[0-9][0-9_e+\-]*|bin_.+")


def is_statistic(field: str) -> bool:
    """Whether a summary's ``field`` is a statistic (else a key field or its own)."""
    return field in _STATISTICS or _PER_PERCENTILE.fullmatch(field) is not None


def key_field_name(field: str) -> str:
    """The name a key field is written under in a summary."""
    return "key_" + field if field in OWN_FIELDS or is_statistic(field) or field.startswith("key_") else field
