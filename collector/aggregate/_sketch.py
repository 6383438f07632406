"""A small DDSketch (Masson, Rim and Lee, "DDSketch: a fast and fully-mergeable quantile
sketch with relative-error guarantees", VLDB 2019): the bounded memory of a timer series
past ``max_samples`` samples in an interval.

Strategy: a sample ``x > 0`` is counted in bucket ``i = ceil(log_gamma(x))``, which
holds the values in ``(gamma**(i-1), gamma**i]``; a query answers with the bucket's
representative ``2 * gamma**i / (gamma + 1)``, which is within ``alpha`` (relative) of
every value in the bucket when ``gamma = (1 + alpha) / (1 - alpha)``. Negative samples
have buckets of their own, by magnitude; magnitudes below :data:`MIN_MAGNITUDE` count as
zero. Buckets are a dict (index to count), so memory follows the spread of the values,
not their number.

**The error**: with ``alpha`` = :data:`RELATIVE_ACCURACY` = 1 %, the value the sketch
gives for a rank (a percentile's ``upper_P``, ``lower_topN``, the median) is within 1 %
of the exact value at that rank, ``|estimate - exact| <= 0.01 * |exact|`` (plus float
rounding at bucket edges), as long as that value's magnitude is at least
:data:`MIN_MAGNITUDE` (below it the error is at most that, absolute) and within a factor
``gamma ** MAX_BUCKETS`` (about 1e17) of the largest magnitude seen: past
:data:`MAX_BUCKETS` buckets of one sign, the smallest magnitudes are merged (DDSketch's
collapsing), which only the very lowest ranks notice. A sum over ranks (``sum_P``,
``mean_P``) is within 1 % of the sum of the magnitudes it covers. Representatives are
clamped to the exact minimum and maximum, which only shrinks the error.
"""

from __future__ import annotations

import math
import sys
from bisect import bisect_left
from itertools import accumulate

#: alpha: the relative error of a value read at a rank.
RELATIVE_ACCURACY = 0.01
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LN_GAMMA = math.log(GAMMA)
_INV_LN_GAMMA = 1 / _LN_GAMMA
#: log of the factor from a bucket's upper bound to its representative, 2 / (gamma + 1).
_LN_REPRESENTATIVE = math.log(2 / (GAMMA + 1))
#: Magnitudes below this count as zero.
MIN_MAGNITUDE = 1e-9
#: Buckets kept per sign before the smallest magnitudes are merged.
MAX_BUCKETS = 2048


def bucket_value(index: int) -> float:
    """The representative of bucket ``index``: within alpha of all it holds."""
    try:
        return math.exp(index * _LN_GAMMA + _LN_REPRESENTATIVE)
    except OverflowError:
        return sys.float_info.max


class _Store:
    """The buckets of one sign: index to count, merged upward from ``floor`` when full."""

    __slots__ = ("buckets", "floor")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.floor: int | None = None

    def add(self, magnitude: float, weight: int = 1) -> None:
        self.add_to(math.ceil(math.log(magnitude) * _INV_LN_GAMMA), weight)

    def add_to(self, index: int, weight: int) -> None:
        """Count ``weight`` samples in bucket ``index`` (or the floor, once merged up to it)."""
        if self.floor is not None and index < self.floor:
            index = self.floor
        buckets = self.buckets
        count = buckets.get(index)
        if count is not None:
            buckets[index] = count + weight
            return
        buckets[index] = weight
        if len(buckets) > MAX_BUCKETS:
            lowest = min(buckets)
            merged = buckets.pop(lowest)
            self.floor = min(buckets)
            buckets[self.floor] += merged


class LogSketch:
    """Counts of samples in logarithmic buckets; ranks read back within alpha.

    The exact count, minimum and maximum are kept beside the buckets: the first and last
    ranks are answered exactly, and every representative is clamped into that range.
    """

    __slots__ = ("_negative", "_positive", "count", "maximum", "minimum", "zeros")

    def __init__(self) -> None:
        self._positive = _Store()
        self._negative = _Store()
        self.zeros = 0
        self.count = 0
        self.minimum = math.inf
        self.maximum = -math.inf

    def add(self, value: float, weight: int = 1) -> None:
        """Count ``value`` ``weight`` times (a sampled statsd timer stands for 1/rate samples)."""
        self.count += weight
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)
        if value > MIN_MAGNITUDE:
            self._positive.add(value, weight)
        elif value < -MIN_MAGNITUDE:
            self._negative.add(-value, weight)
        else:
            self.zeros += weight

    @classmethod
    def merged(cls, sketches: list[LogSketch]) -> LogSketch:
        """One sketch of every sample of ``sketches`` (DDSketch is mergeable: the buckets
        add up), within the same alpha."""
        merged = cls()
        for sketch in sketches:
            merged.count += sketch.count
            merged.zeros += sketch.zeros
            merged.minimum = min(merged.minimum, sketch.minimum)
            merged.maximum = max(merged.maximum, sketch.maximum)
            for mine, theirs in ((merged._positive, sketch._positive), (merged._negative, sketch._negative)):
                for index, count in theirs.buckets.items():
                    mine.add_to(index, count)
        return merged

    @property
    def buckets(self) -> int:
        return len(self._positive.buckets) + len(self._negative.buckets) + (self.zeros > 0)

    def ranked(self) -> RankedSketch:
        """The buckets in ascending order of value, ready for rank queries."""
        low, high = self.minimum, self.maximum
        values: list[float] = []
        counts: list[int] = []
        for index in sorted(self._negative.buckets, reverse=True):
            values.append(min(max(-bucket_value(index), low), high))
            counts.append(self._negative.buckets[index])
        if self.zeros:
            values.append(min(max(0.0, low), high))
            counts.append(self.zeros)
        for index in sorted(self._positive.buckets):
            values.append(min(max(bucket_value(index), low), high))
            counts.append(self._positive.buckets[index])
        return RankedSketch(values, counts, low, high)


class RankedSketch:
    """Rank queries over a sketch's buckets: prefix sums of counts, values and squares."""

    __slots__ = ("_cumulative", "_squares", "_sums", "_values", "count", "maximum", "minimum")

    def __init__(self, values: list[float], counts: list[int], minimum: float, maximum: float) -> None:
        self._values = values
        self._cumulative = list(accumulate(counts))
        self._sums = [0.0, *accumulate(v * c for v, c in zip(values, counts, strict=True))]
        self._squares = [0.0, *accumulate(v * v * c for v, c in zip(values, counts, strict=True))]
        self.count = self._cumulative[-1] if counts else 0
        self.minimum = minimum
        self.maximum = maximum

    def value_at(self, rank: int) -> float:
        """The value at ``rank`` (0-based, ascending): exact at both ends, else within alpha."""
        if rank <= 0:
            return self.minimum
        if rank >= self.count - 1:
            return self.maximum
        return self._values[bisect_left(self._cumulative, rank + 1)]

    def lowest(self, k: int) -> tuple[float, float]:
        """The sum and the sum of squares of the ``k`` lowest values (estimated)."""
        if k <= 0:
            return 0.0, 0.0
        bucket = bisect_left(self._cumulative, k)
        before = self._cumulative[bucket - 1] if bucket else 0
        value, partial = self._values[bucket], k - before
        return self._sums[bucket] + value * partial, self._squares[bucket] + value * value * partial

    def highest(self, k: int) -> tuple[float, float]:
        """The sum and the sum of squares of the ``k`` highest values (estimated)."""
        total_sum, total_squares = self._sums[-1], self._squares[-1]
        rest_sum, rest_squares = self.lowest(self.count - k)
        return total_sum - rest_sum, total_squares - rest_squares
