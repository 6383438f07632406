"""Prometheus's rules for names and label sets, as remote write 1.0 states them. Sans-I/O.

numbat names are dotted (``registry.request.latency``) and its fields carry any key, so
the mapping *sanitizes* names first (:func:`metric_name`, :func:`label_name`: every
character outside ``[a-zA-Z0-9_]`` becomes ``_``, a leading digit gets a ``_`` before
it, as statsd_exporter and graphite_exporter do; colons are left to recording rules);
then every label set is *checked* before it is encoded (:func:`check_labels`), so that a
set the receiver would refuse, or worse store, never leaves: a name off the grammar
(a key sanitized to ``__...``, reserved for Prometheus), two keys sanitized to one name,
a value that is not UTF-8 text. The caller counts such a series and drops it, alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
NAME_LABEL = "__name__"
_UNSAFE = re.compile(r"[^a-zA-Z0-9_]")

#: Why a label set is refused: what the skipped-events counter says.
BAD_NAME = "bad metric name"
BAD_LABEL_NAME = "bad label name"
BAD_LABEL_VALUE = "bad label value"


def sanitize(name: str) -> str:
    """``name`` with every character outside ``[a-zA-Z0-9_]`` made ``_`` and a leading
    digit escaped with ``_``; "" stays "" (no name at all)."""
    clean = _UNSAFE.sub("_", name)
    return "_" + clean if clean[:1].isdigit() else clean


def metric_name(name: str, prefix: str = "") -> str:
    return prefix + sanitize(name) if name else ""


def label_name(key: str) -> str:
    return sanitize(key)


def check_labels(labels: Sequence[tuple[str, str]]) -> str | None:
    """Why Prometheus must not get this label set (sorted by name, ``__name__`` among
    them), or None when it may: ``__name__`` present and on the metric-name grammar,
    other names on the label-name grammar and not reserved (``__``), no name twice, no
    empty value (an empty label is no label: the mapping leaves those out), values that
    are UTF-8 text."""
    names = [name for name, _ in labels]
    if names != sorted(names):
        raise ValueError("labels must be sorted by name")  # the mapping's duty: a bug, not bad input
    metric = dict(labels).get(NAME_LABEL)
    if metric is None or METRIC_NAME.fullmatch(metric) is None:
        return BAD_NAME
    for index, (name, value) in enumerate(labels):
        if name != NAME_LABEL and (name.startswith("__") or LABEL_NAME.fullmatch(name) is None):
            return BAD_LABEL_NAME
        if index and names[index - 1] == name:
            return BAD_LABEL_NAME
        if not value or not _is_utf8(value):
            return BAD_LABEL_VALUE
    return None


def _is_utf8(text: str) -> bool:
    """False for text with lone surrogates, which no UTF-8 encoder writes."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
