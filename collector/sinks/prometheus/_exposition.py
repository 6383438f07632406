"""The page: every family of the store in the text format, version 0.0.4. Sans-I/O.

Our own writer, not prometheus-client's: its registry wants one label set per family
and a collector object per metric, where the page here is a store of series that come
and go with every event; and its writer formats every sample from scratch, where a
series here carries its label text already escaped (_series.py), so writing a sample is
writing its number.

Each family is one block: ``# HELP``, ``# TYPE``, then its samples, never interleaved
with another's; families in the order of their names, series in the order they came.
A histogram writes its buckets cumulated, ``+Inf`` equal to ``_count``; a summary its
quantiles, ``_sum`` and ``_count``. No timestamps: the scrape's time is the sample's, as
for statsd_exporter.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._series import FlushedSummarySeries, HistogramSeries, Series, SummarySeries
from ._store import Family
from ._text import bound, help_text, number

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


def render(families: Iterable[Family], now: float) -> bytes:
    """The page of ``families``; ``now`` (seconds, monotonic) ages summaries' windows."""
    lines: list[str] = []
    add = lines.append
    for family in families:
        name = family.name
        add(f"# HELP {name} {help_text(family.help)}\n# TYPE {name} {family.kind}\n")
        if family.kind in {"counter", "gauge"}:
            for series in family.series.values():
                text = series.text
                add(
                    f"{name}{{{text}}} {number(series.value)}\n"  # type: ignore[attr-defined]
                    if text
                    else f"{name} {number(series.value)}\n"  # type: ignore[attr-defined]
                )
        elif family.kind == "histogram":
            for series in family.series.values():
                assert isinstance(series, HistogramSeries)
                _histogram(lines, name, series)
        else:
            for series in family.series.values():
                _summary(lines, name, series, now)
    return "".join(lines).encode()


def _histogram(lines: list[str], name: str, series: HistogramSeries) -> None:
    text = series.text
    sep = "," if text else ""
    cumulative = series.cumulative()
    for le, count in zip((*series.le, "+Inf"), cumulative, strict=True):
        lines.append(f'{name}_bucket{{{text}{sep}le="{le}"}} {number(count)}\n')
    _sum_and_count(lines, name, text, series.sum, cumulative[-1])  # _count is the +Inf bucket


def _summary(lines: list[str], name: str, series: Series, now: float) -> None:
    assert isinstance(series, SummarySeries | FlushedSummarySeries)
    text = series.text
    sep = "," if text else ""
    for quantile, value in series.quantile_values(now):
        lines.append(f'{name}{{{text}{sep}quantile="{bound(quantile)}"}} {number(value)}\n')
    _sum_and_count(lines, name, text, series.sum, series.count)


def _sum_and_count(lines: list[str], name: str, text: str, total: float, count: float) -> None:
    braces = f"{{{text}}}" if text else ""
    lines.append(f"{name}_sum{braces} {number(total)}\n{name}_count{braces} {number(count)}\n")
