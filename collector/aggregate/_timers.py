"""A timer series (statsd's ``ms``, and ``h`` and ``d``): its samples in one interval, and
the statistics Etsy statsd computes from them (lib/process_metrics.js), float for float.

Strategy: below ``max_samples`` the samples are kept and the statistics computed as
statsd does, in the same order of float operations (sorted ascending, running sums), so
every number equals statsd's exactly. The sample past the bound moves the interval's
samples into a :class:`LogSketch`: from then on the count, lower, upper, sum, sum of
squares, mean, standard deviation and histogram bins stay exact (running totals, no
longer in statsd's order of additions), the values read at a rank (median, ``upper_P``,
``lower_topN``) and the sums over ranks (``sum_P``, ``mean_P``, ``sum_squares_P``) come
from the sketch, within its stated error; ``count_P`` stays exact.

statsd's definitions, kept here: ``count`` is the samples weighed by their sample rate
(the sum of ``1 / rate``) while the mean, median, percentiles and ``std`` (the population
standard deviation) are of the samples as received. A percentile P keeps
``round(|P| / 100 * n)`` samples (JavaScript's rounding, half up), the lowest for P > 0
(``upper_P`` their largest) and the highest for P < 0 (``lower_topN`` their smallest);
when that rounds to 0 for more than one sample, P is left out of the flush. One sample
is its own every percentile. Histogram bins count the samples below each bound and not
below the previous one; samples at or past the last bound are not counted (name it
``inf`` to count them).

Where statsd writes NaN (a top-N percentile that rounds to all of several samples reads
a running sum before its start) we write the sum of all samples, which is what it meant.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

from ._sketch import LogSketch


def js_round(x: float) -> int:
    """JavaScript's Math.round for x >= 0: halves go up (Python's round goes to even)."""
    whole = math.floor(x)
    return whole + 1 if x - whole >= 0.5 else whole


def js_number(x: float) -> str:
    """How JavaScript writes a number (``'' + x``): integers without ``.0``, exponents
    without padding. statsd builds the names of percentiles and bins this way."""
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x.is_integer() and abs(x) < 1e21:
        return str(int(x))
    text = repr(float(x))
    if "e" in text:
        mantissa, _, exponent = text.partition("e")
        sign = "-" if exponent.startswith("-") else "+"
        text = f"{mantissa}e{sign}{int(exponent.lstrip('+-'))}"
    return text


def percentile_suffix(pct: float) -> str:
    """statsd's spelling of a percentile in a name: 90, 99_9, top5 (for -5)."""
    return js_number(float(pct)).replace(".", "_", 1).replace("-", "top", 1)


def bin_name(bound: float) -> str:
    """statsd's name of a histogram bin: bin_100, bin_0_5, bin_inf."""
    text = "inf" if math.isinf(bound) and bound > 0 else js_number(float(bound))
    return "bin_" + text.replace(".", "_", 1)


class TimerSeries:
    """One interval of one timer: the samples (exact) or, past the bound, a sketch with
    running totals."""

    __slots__ = ("bin_bounds", "bins", "count", "m2", "mean", "samples", "sketch", "sum", "sum_squares")

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.count = 0.0  # the samples weighed by 1 / sample rate: statsd's timer_counters
        self.sketch: LogSketch | None = None
        self.sum = self.sum_squares = self.mean = self.m2 = 0.0
        self.bins: list[int] = []
        self.bin_bounds: tuple[float, ...] = ()  # what ``bins`` count, in sketch mode

    def start_sketch(self, bounds: tuple[float, ...]) -> int:
        """Move the samples into a sketch; returns how many moved."""
        self.sketch = LogSketch()
        self.bins = [0] * len(bounds)
        self.bin_bounds = bounds
        moved = self.samples
        self.samples = []
        for value in moved:
            self.add_sketched(value, bounds)
        return len(moved)

    def add_sketched(self, value: float, bounds: Sequence[float]) -> None:
        sketch = self.sketch
        assert sketch is not None
        sketch.add(value)
        self.sum += value
        self.sum_squares += value * value
        delta = value - self.mean  # Welford: the variance without cancellation
        self.mean += delta / sketch.count
        self.m2 += delta * (value - self.mean)
        if bounds:
            slot = bisect_right(bounds, value)
            if slot < len(bounds):
                self.bins[slot] += 1


def timer_statistics(
    series: TimerSeries, interval: float, percentiles: Sequence[float], bounds: Sequence[float]
) -> dict[str, float]:
    """The flush of one interval of a timer with at least one sample."""
    if series.sketch is not None:
        return _sketched(series, interval, percentiles, bounds)
    return exact_statistics(series.samples, series.count, interval, percentiles, bounds)


def exact_statistics(
    samples: list[float], count: float, interval: float, percentiles: Sequence[float], bounds: Sequence[float]
) -> dict[str, float]:
    """statsd's process_metrics for one timer, operation for operation."""
    values = sorted(samples)
    n = len(values)
    low, high = values[0], values[-1]
    cumulative = [low]
    squares = [low * low]
    for value in values[1:]:
        cumulative.append(value + cumulative[-1])
        squares.append(value * value + squares[-1])
    stats = _exact_percentiles(values, cumulative, squares, percentiles)
    total = cumulative[-1]
    mean = total / n
    deviations = 0.0
    for value in values:
        deviations += (value - mean) * (value - mean)
    middle = n // 2
    stats["std"] = math.sqrt(deviations / n)
    stats["upper"] = high
    stats["lower"] = low
    stats["count"] = count
    stats["count_ps"] = count / interval
    stats["sum"] = total
    stats["sum_squares"] = squares[-1]
    stats["mean"] = mean
    stats["median"] = values[middle] if n % 2 else (values[middle - 1] + values[middle]) / 2
    if bounds:
        stats.update(_exact_bins(values, bounds))
    return stats


def _exact_percentiles(
    values: list[float], cumulative: list[float], squares: list[float], percentiles: Sequence[float]
) -> dict[str, float]:
    """statsd's statistics per percentile, from sorted ``values`` and their running sums."""
    n = len(values)
    low, high = values[0], values[-1]
    stats: dict[str, float] = {}
    for pct in percentiles:
        suffix = percentile_suffix(pct)
        kept, boundary, total, total_squares, mean = n, high, low, low * low, low
        if n > 1:
            kept = js_round(abs(pct) / 100 * n)
            if kept == 0:
                continue
            if pct > 0:
                boundary, total, total_squares = values[kept - 1], cumulative[kept - 1], squares[kept - 1]
            else:
                boundary = values[n - kept]
                if kept < n:
                    total = cumulative[n - 1] - cumulative[n - kept - 1]
                    total_squares = squares[n - 1] - squares[n - kept - 1]
                else:
                    total, total_squares = cumulative[n - 1], squares[n - 1]
            mean = total / kept
        stats["count_" + suffix] = kept
        stats["mean_" + suffix] = mean
        stats[("upper_" if pct > 0 else "lower_") + suffix] = boundary
        stats["sum_" + suffix] = total
        stats["sum_squares_" + suffix] = total_squares
    return stats


def _exact_bins(values: list[float], bounds: Sequence[float]) -> dict[str, float]:
    """statsd's histogram: per bound, the sorted values below it and not below the previous one."""
    bins: dict[str, float] = {}
    start = 0
    for bound in bounds:
        end = start
        while end < len(values) and values[end] < bound:
            end += 1
        bins[bin_name(bound)] = end - start
        start = end
    return bins


def _sketched(
    series: TimerSeries, interval: float, percentiles: Sequence[float], bounds: Sequence[float]
) -> dict[str, float]:
    sketch = series.sketch
    assert sketch is not None
    ranked = sketch.ranked()
    n = ranked.count
    stats: dict[str, float] = {}
    for pct in percentiles:
        suffix = percentile_suffix(pct)
        kept = js_round(abs(pct) / 100 * n)
        if kept == 0:
            continue
        if pct > 0:
            boundary = ranked.value_at(kept - 1)
            total, total_squares = ranked.lowest(kept)
        else:
            boundary = ranked.value_at(n - kept)
            total, total_squares = ranked.highest(kept)
        stats["count_" + suffix] = kept
        stats["mean_" + suffix] = total / kept
        stats[("upper_" if pct > 0 else "lower_") + suffix] = boundary
        stats["sum_" + suffix] = total
        stats["sum_squares_" + suffix] = total_squares
    middle = n // 2
    stats["std"] = math.sqrt(max(series.m2, 0.0) / n)
    stats["upper"] = sketch.maximum
    stats["lower"] = sketch.minimum
    stats["count"] = series.count
    stats["count_ps"] = series.count / interval
    stats["sum"] = series.sum
    stats["sum_squares"] = series.sum_squares
    stats["mean"] = series.sum / n
    stats["median"] = ranked.value_at(middle) if n % 2 else (ranked.value_at(middle - 1) + ranked.value_at(middle)) / 2
    if bounds and tuple(bounds) == series.bin_bounds:  # else the bounds changed mid-interval: no bins this once
        for bound, hits in zip(bounds, series.bins, strict=True):
            stats[bin_name(bound)] = hits
    return stats
