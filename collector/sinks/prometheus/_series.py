"""One series on the page: its identity, its labels written once, and the state each
Prometheus type keeps. Sans-I/O: times are handed in (seconds, monotonic).

Strategy: a series is made once, when its first event arrives, and renders its label
text then (escaped, in label-name order), so that rendering the page writes only numbers.
Each type's state is the least that type needs: a counter and a gauge one float; a
histogram a count per bucket, a sum and a count; a summary of raw observations a ring
of :class:`LogSketch` windows (client_golang's ``MaxAge``/``AgeBuckets``: its quantiles
cover the last ``max_age`` seconds, give or take one window), a summary of an
aggregation's timer the quantiles of its last flush.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import ClassVar, Literal

from ...aggregate._sketch import LogSketch
from ._text import bound, labels_text

Labels = tuple[tuple[str, str], ...]
#: The types of the text format that numbatd writes.
Kind = Literal["counter", "gauge", "histogram", "summary"]


class Series:
    """The part every type shares: who it is, its label text, when it was last updated."""

    __slots__ = ("alive", "family", "labels", "text", "ttl", "updated")
    kind: ClassVar[Kind]

    def __init__(self, family: str, labels: Labels, ttl: float, now: float) -> None:
        self.family = family  #: the family's name on the page
        self.labels = labels  #: (name, value), sorted by name
        self.text = labels_text(labels)  #: the inside of its braces, escaped
        self.ttl = ttl  #: seconds without an update before it leaves the page (0: never)
        self.updated = now
        self.alive = True  #: False once expired: whoever still holds it must look it up again

    @property
    def key(self) -> tuple[str, Labels]:
        return (self.family, self.labels)


class CounterSeries(Series):
    __slots__ = ("value",)
    kind = "counter"

    def __init__(self, family: str, labels: Labels, ttl: float, now: float) -> None:
        super().__init__(family, labels, ttl, now)
        self.value = 0.0


class GaugeSeries(Series):
    __slots__ = ("value",)
    kind = "gauge"

    def __init__(self, family: str, labels: Labels, ttl: float, now: float) -> None:
        super().__init__(family, labels, ttl, now)
        self.value = 0.0


class HistogramSeries(Series):
    """Buckets by their upper bound (``le``, inclusive); ``counts[-1]`` holds what lies
    past the last bound. Bucket counts are kept per bucket and summed when written; the
    count of observations is their sum, the ``+Inf`` bucket (:meth:`cumulative`): a
    count kept apart, added to in another order, could differ from it in the last digit
    of a float, and the page must show them equal."""

    __slots__ = ("bounds", "counts", "le", "sum")
    kind = "histogram"

    def __init__(self, family: str, labels: Labels, ttl: float, now: float, bounds: tuple[float, ...]) -> None:
        super().__init__(family, labels, ttl, now)
        self.bounds = bounds
        self.le = tuple(bound(b) for b in bounds)  #: the bounds as the page writes them
        self.counts = [0.0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float, weight: float = 1.0) -> None:
        self.counts[bisect_left(self.bounds, value)] += weight
        self.sum += value * weight

    def add_bins(self, bins: dict[float, float], count: float, total: float) -> None:
        """An aggregation's flush: ``bins`` by upper bound (statsd's bins, each the samples
        below its bound and not below the one before), ``count`` and ``total`` (the sum)."""
        binned = 0.0
        for upper, hits in sorted(bins.items()):
            if math.isinf(upper):
                continue  # statsd's last bin, "inf": what lies past the last bound, below
            at = bisect_left(self.bounds, upper)
            if at == len(self.bounds) or self.bounds[at] != upper:
                self._insert(at, upper)
            self.counts[at] += hits
            binned += hits
        counted = max(count, binned)  # the +Inf bucket, and _count: the flush's count, or its bins' if more
        self.counts[-1] += counted - binned  # past the last finite bound (or in no bin)
        self.sum += total

    def _insert(self, at: int, upper: float) -> None:
        """A bound this series has not had (the aggregation's bins changed): it starts
        empty, and what came before stays counted in the bucket above it."""
        self.bounds = (*self.bounds[:at], upper, *self.bounds[at:])
        self.le = (*self.le[:at], bound(upper), *self.le[at:])
        self.counts.insert(at, 0.0)

    def cumulative(self) -> list[float]:
        """Bucket counts as the page writes them: each holds those before it; the last is +Inf."""
        total, out = 0.0, []
        for hits in self.counts:
            total += hits
            out.append(total)
        return out


class SummarySeries(Series):
    """A summary of raw observations: quantiles over a sliding window of ``max_age``
    seconds, made of ``age_buckets`` windows; ``sum`` and ``count`` over all time."""

    __slots__ = ("count", "quantiles", "started", "sum", "width", "windows")
    kind = "summary"

    def __init__(
        self,
        family: str,
        labels: Labels,
        ttl: float,
        now: float,
        *,
        quantiles: tuple[float, ...],
        max_age: float,
        age_buckets: int,
    ) -> None:
        super().__init__(family, labels, ttl, now)
        self.quantiles = quantiles
        self.width = max_age / age_buckets  #: seconds each window covers
        #: newest first; None until a window gets an observation
        self.windows: list[LogSketch | None] = [None] * age_buckets
        self.started = now  #: when the newest window began
        self.sum = 0.0
        self.count = 0.0

    def observe(self, value: float, weight: int, now: float) -> None:
        self._rotate(now)
        window = self.windows[0]
        if window is None:
            window = self.windows[0] = LogSketch()
        window.add(value, weight)
        self.sum += value * weight
        self.count += weight

    def quantile_values(self, now: float) -> list[tuple[float, float]]:
        """(quantile, value) over the windows still in the sliding window; NaN when empty."""
        self._rotate(now)
        kept = [window for window in self.windows if window is not None]
        if not kept:
            return [(q, math.nan) for q in self.quantiles]
        merged = kept[0] if len(kept) == 1 else LogSketch.merged(kept)
        ranked = merged.ranked()
        n = ranked.count
        return [(q, ranked.value_at(max(0, math.ceil(q * n) - 1))) for q in self.quantiles]

    def _rotate(self, now: float) -> None:
        passed = int((now - self.started) // self.width)
        if passed <= 0:
            return
        windows = self.windows
        if passed >= len(windows):
            windows[:] = [None] * len(windows)
        else:
            windows[:] = [None] * passed + windows[: len(windows) - passed]
        self.started += passed * self.width


class FlushedSummarySeries(Series):
    """A summary of an aggregation's timer: ``sum`` and ``count`` add up over flushes, the
    quantiles are those of the last flush (statsd's percentiles of its interval)."""

    __slots__ = ("count", "quantiles", "sum")
    kind = "summary"

    def __init__(self, family: str, labels: Labels, ttl: float, now: float) -> None:
        super().__init__(family, labels, ttl, now)
        self.quantiles: list[tuple[float, float]] = []
        self.sum = 0.0
        self.count = 0.0

    def quantile_values(self, now: float) -> list[tuple[float, float]]:
        return self.quantiles
