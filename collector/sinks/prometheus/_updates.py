"""How one event updates its series, by the type of the series and of the input. Sans-I/O.

Each update takes the series, the event, the rule's ``scale`` (with statsd's ms made
seconds) and the time, and returns None, or why the event changed nothing (a negative
counter). What each does is in _absorb.py's description.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ._series import FlushedSummarySeries, HistogramSeries, Series

Event = dict[str, Any]
Update = Callable[[Series, Event, float, float], str | None]  # (series, event, scale, now) -> why not
NOT_A_NUMBER = "not a number"
NEGATIVE_COUNTER = "negative counter"
NUMBERS = (int, float, bool)


# -- raw events -------------------------------------------------------------------------------


def _raw_counter(series: Series, event: Event, scale: float, now: float) -> str | None:
    value = float(event["value"]) * scale
    rate = event.get("rate")
    if rate:
        value /= rate
    if not value >= 0:
        return NEGATIVE_COUNTER
    series.value += value  # type: ignore[attr-defined]
    return None


def _raw_gauge(series: Series, event: Event, scale: float, now: float) -> str | None:
    value = float(event["value"]) * scale
    if event.get("gauge_delta"):
        series.value += value  # type: ignore[attr-defined]
    else:
        series.value = value  # type: ignore[attr-defined]
    return None


def _weight(event: Event) -> int:
    """statsd_exporter observes a sampled timer int(1 / rate) times."""
    rate = event.get("rate")
    return max(1, int(1 / rate)) if rate else 1


def _raw_histogram(series: Series, event: Event, scale: float, now: float) -> str | None:
    series.observe(float(event["value"]) * scale, _weight(event))  # type: ignore[attr-defined]
    return None


def _raw_summary(series: Series, event: Event, scale: float, now: float) -> str | None:
    series.observe(float(event["value"]) * scale, _weight(event), now)  # type: ignore[attr-defined]
    return None


RAW_UPDATES: dict[str, Update] = {
    "counter": _raw_counter,
    "gauge": _raw_gauge,
    "histogram": _raw_histogram,
    "summary": _raw_summary,
}


# -- an aggregation's summaries -----------------------------------------------------------------


class SummaryUpdates:
    """The updates of summaries, by series type; they keep what a timer's field names mean."""

    def __init__(self) -> None:
        self._statistics: dict[str, tuple[str, float] | None] = {}
        self.by_kind: dict[str, Update] = {
            "counter": self._counter,
            "gauge": self._gauge,
            "histogram": self._histogram,
            "summary": self._summary,
        }

    def __getitem__(self, kind: str) -> Update:
        return self.by_kind[kind]

    @staticmethod
    def _counter(series: Series, event: Event, scale: float, now: float) -> str | None:
        count = float(event.get("count", 0.0)) * scale
        if not count >= 0:
            return NEGATIVE_COUNTER
        series.value += count  # type: ignore[attr-defined]
        return None

    @staticmethod
    def _gauge(series: Series, event: Event, scale: float, now: float) -> str | None:
        value = event.get("value") if event["kind"] == "gauge" else event.get("count")
        if value.__class__ not in NUMBERS:
            return NOT_A_NUMBER
        series.value = float(value) * scale  # type: ignore[attr-defined]
        return None

    def _histogram(self, series: Series, event: Event, scale: float, now: float) -> str | None:
        bins: dict[float, float] = {}
        for field, value in event.items():
            statistic = self._statistic(field)
            if statistic is not None and statistic[0] == "bin":
                bins[statistic[1] * scale] = float(value)
        assert isinstance(series, HistogramSeries)
        series.add_bins(bins, float(event.get("count", 0.0)), float(event.get("sum", 0.0)) * scale)
        return None

    def _summary(self, series: Series, event: Event, scale: float, now: float) -> str | None:
        quantiles: dict[float, float] = {}
        for field, value in event.items():
            statistic = self._statistic(field)
            if statistic is not None and statistic[0] == "quantile":
                quantiles.setdefault(statistic[1], float(value) * scale)
        assert isinstance(series, FlushedSummarySeries)
        series.quantiles = sorted(quantiles.items())
        series.count += float(event.get("count", 0.0))
        series.sum += float(event.get("sum", 0.0)) * scale
        return None

    def _statistic(self, field: str) -> tuple[str, float] | None:
        """What a timer summary's field says: ("quantile", q) for ``median`` and ``upper_P``,
        ("bin", bound) for ``bin_B``; None for the rest."""
        try:
            return self._statistics[field]
        except KeyError:
            pass
        found: tuple[str, float] | None = None
        if field == "median":
            found = ("quantile", 0.5)
        elif field.startswith("upper_") and not field.startswith("upper_top"):
            percent = _statsd_number(field[6:])
            if percent is not None and 0 < percent <= 100 and percent != 50:  # 50: the median says it
                # in decimal: 99.9 % is the quantile 0.999, where 99.9 / 100 is 0.9990000000000001
                found = ("quantile", float(Decimal(field[6:].replace("_", ".", 1)) / 100))
        elif field.startswith("bin_"):
            upper = _statsd_number(field[4:])
            if upper is not None:
                found = ("bin", upper)
        if len(self._statistics) < 10_000:
            self._statistics[field] = found
        return found


def _statsd_number(text: str) -> float | None:
    """A number as statsd writes it in a name: ``99_9`` is 99.9, ``inf`` infinity."""
    try:
        value = float(text.replace("_", ".", 1))
    except ValueError:
        return None
    return None if math.isnan(value) else value
