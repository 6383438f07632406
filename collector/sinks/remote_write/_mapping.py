"""numbat events as Prometheus samples: which series, which value. Sans-I/O.

An event ``{"name": "registry.request.latency", "value": 31, "time": 1700000000000,
"host": "web-1", "status": "ok"}`` is the sample ``31 @ 1700000000000`` of the series
``registry_request_latency{host="web-1", status="ok"}``: the metric name is the event's
name sanitized (_names.py) behind an optional prefix, every other field a label (its
key sanitized; a number or a boolean as text; an empty text, a null, a list or an object
is no label), the static labels of the configuration beneath them. A value must be a
number (a boolean counts as 1 or 0); anything else is no sample.

An aggregation's summary (``kind`` counter, timer, gauge or set: collector/aggregate)
becomes one sample per statistic, all at the flush time, its key fields the labels:
``<name>_<statistic>`` (``_count``, ``_rate``, ``_sum``, ``_mean``, ``_upper_90``...),
but a gauge's ``value``, which is ``<name>`` itself, and a timer's percentile ``upper_P``,
which is ``<name>{quantile="P/100"}`` as in a Prometheus summary. The numbers are the
interval's, as statsd flushes them: ``_count`` is what the interval counted, not a
running total.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal
from typing import Any

from ...aggregate._summary import OWN_FIELDS, is_statistic
from ._names import BAD_LABEL_NAME, BAD_NAME, NAME_LABEL, check_labels, label_name, metric_name

Labels = list[tuple[str, str]]
#: Event keys that are no label: the metric name, the value, the time.
RESERVED = frozenset({"name", "value", "time"})
NOT_A_NUMBER = "not a number"
_PERCENTILE = re.compile(r"upper_([0-9]+(?:_[0-9]+)?)")


def label_text(value: object) -> str | None:
    """A field's value as a label value; None for what is no label."""
    kind = value.__class__
    if kind is str:
        return value or None  # type: ignore[return-value]
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text  # 3.0 is "3", as InfluxDB tags write it
    return None


def sample_value(value: object) -> float | None:
    """An event's value as a sample's float64, or None when it is no number."""
    kind = value.__class__
    if kind is float:
        return value  # type: ignore[return-value]
    if kind is int or kind is bool:
        try:
            return float(value)  # type: ignore[arg-type]
        except OverflowError:
            return None
    return None


def quantile(suffix: str) -> str:
    """statsd's percentile suffix (``90``, ``99_9``) as a quantile's text (``0.9``, ``0.999``),
    in decimal so that 99.9 is not 0.9990000000000001."""
    fraction = Decimal(suffix.replace("_", ".")) / 100
    return format(fraction.normalize(), "f")


class Naming:
    """How events and summaries become label sets; one per sink."""

    def __init__(
        self,
        prefix: str = "",
        labels: Collection[str] = (),
        exclude: Collection[str] = (),
        static_labels: Mapping[str, str] | None = None,
    ) -> None:
        self.prefix = prefix
        self.only = frozenset(labels)  #: if not empty, the only fields that become labels
        self.exclude = frozenset(exclude) | RESERVED
        self.static = {label_name(key): value for key, value in (static_labels or {}).items() if value}

    def wanted(self, key: str) -> bool:
        """Whether the field ``key`` may become a label (if its value can)."""
        return key not in self.exclude and (not self.only or key in self.only)

    def labels(self, name: str, fields: Sequence[tuple[str, object]]) -> Labels | str:
        """The checked, sorted label set of the metric ``name`` with the label candidates
        ``fields``; or why there is none (_names.py's reasons)."""
        from_fields: dict[str, str] = {}
        for key, value in fields:
            text = label_text(value)
            if text is None:
                continue
            sanitized = label_name(key)
            if sanitized in from_fields or sanitized == NAME_LABEL:
                return BAD_LABEL_NAME  # two keys, one label name; or one that would rename the series
            from_fields[sanitized] = text
        merged = {**self.static, **from_fields}  # a field's label wins over a static one
        merged[NAME_LABEL] = metric_name(name, self.prefix)
        labels = sorted(merged.items())
        return check_labels(labels) or labels

    def event_labels(self, event: Mapping[str, Any]) -> Labels | str:
        name = event.get("name")
        if name.__class__ is not str:
            return BAD_NAME
        return self.labels(name, [(key, value) for key, value in event.items() if self.wanted(key)])

    def summary_samples(self, summary: Mapping[str, Any]) -> list[tuple[Labels | str, float]]:
        """A summary's samples, each with its label set (or why it has none)."""
        name, kind = summary.get("name"), summary.get("kind")
        if name.__class__ is not str:
            return [(BAD_NAME, math.nan)]
        keys = [
            (key, value)
            for key, value in summary.items()
            if key not in OWN_FIELDS and not is_statistic(key) and self.wanted(key)
        ]
        samples: list[tuple[Labels | str, float]] = []
        for statistic, raw in summary.items():
            if statistic in OWN_FIELDS or not is_statistic(statistic):
                continue
            value = sample_value(raw)
            if value is None:
                samples.append((NOT_A_NUMBER, math.nan))
                continue
            if kind == "gauge" and statistic == "value":
                samples.append((self.labels(name, keys), value))
            elif kind == "timer" and (percentile := _PERCENTILE.fullmatch(statistic)):
                samples.append((self.labels(name, [*keys, ("quantile", quantile(percentile[1]))]), value))
            else:
                samples.append((self.labels(f"{name}_{statistic}", keys), value))
        return samples
