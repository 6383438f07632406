"""Per-key sliding windows of samples and the statistic a rule reads from them.

Strategy: a window answers its one statistic over the samples of the last
``window_ms``, in constant time per sample (:meth:`update` adds one and answers at
once). ``last`` keeps one sample. Sums, counts, means, rates, minima and maxima keep
:data:`BUCKETS` buckets a window (sum, count, min, max each), so their memory is fixed
whatever the rate and a sample costs a few additions; the window slides a bucket at a
time (a sample is in it while its bucket's end is after ``now - window_ms``).
Percentiles need the samples: at most ``max_samples`` of them (the oldest go first,
counted in the rule's :class:`Drops`), with a sorted copy (an insertion is a memmove).
The clock is the caller's.

``dump`` and ``load`` give a window's whole state as JSON-able lists, so a window loaded
from a dump answers exactly as the one dumped.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from fractions import Fraction
from typing import Any, Protocol

#: Buckets a window of sums, counts, means, rates, minima or maxima is kept in.
BUCKETS = 60


class Drops:
    """Where windows count the samples ``max_samples`` pushed out: one per rule."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


_NO_DROPS = Drops()


class Window(Protocol):
    """What a rule needs of a window."""

    def add(self, at_ms: int, value: float) -> None: ...
    def update(self, at_ms: int, value: float) -> float: ...
    def expire(self, now_ms: int) -> None: ...
    def value(self) -> float | None: ...
    def empty(self) -> bool: ...
    def dump(self) -> dict[str, Any]: ...
    def load(self, state: dict[str, Any]) -> None: ...


class LastWindow:
    """The last sample, while it is in the window."""

    __slots__ = ("_at", "_value", "window_ms")

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self._at: int | None = None
        self._value = 0.0

    def add(self, at_ms: int, value: float) -> None:
        self._at = at_ms
        self._value = value

    def update(self, at_ms: int, value: float) -> float:
        """Add a sample at ``at_ms`` (the clock's now) and answer the statistic."""
        self._at = at_ms
        self._value = value
        return value

    def expire(self, now_ms: int) -> None:
        if self._at is not None and self._at <= now_ms - self.window_ms:
            self._at = None

    def value(self) -> float | None:
        return None if self._at is None else self._value

    def empty(self) -> bool:
        return self._at is None

    def dump(self) -> dict[str, Any]:
        return {"samples": [] if self._at is None else [[self._at, self._value]]}

    def load(self, state: dict[str, Any]) -> None:
        samples = state["samples"]
        if samples:
            self._at, self._value = int(samples[-1][0]), float(samples[-1][1])


class BucketWindow:
    """The samples' sum, count, mean, rate (sum per second of window), min or max, kept
    as :data:`BUCKETS` buckets a window (a bucket is ``window / BUCKETS`` wide, aligned on
    multiples of its width): a sample is in the window while its bucket's end is after
    ``now - window``. Memory and time per sample are constant whatever the rate: an
    event lands in the current bucket (a few additions); a new bucket adds the current
    one to the closed ones' totals, and a closed bucket leaving the window has them
    counted again from the rest (``math.fsum``: exact, so a huge sample that comes and
    goes leaves no rounding behind)."""

    __slots__ = (
        "_closed",
        "_count",
        "_high",
        "_index",
        "_kept_count",
        "_kept_high",
        "_kept_low",
        "_kept_sum",
        "_low",
        "_statistic",
        "_sum",
        "width",
        "window_ms",
    )

    def __init__(self, window_ms: int, statistic: str = "sum") -> None:
        self.window_ms = window_ms
        self.width = max(1, -(-window_ms // BUCKETS))
        self._statistic = statistic
        self._closed: deque[tuple[int, float, int, float, float]] = deque()  # (index, sum, count, low, high)
        self._index = -1  # the current bucket: its samples' sum, count, low, high
        self._sum = 0.0
        self._count = 0
        self._low = math.inf
        self._high = -math.inf
        self._kept_sum = 0.0  # the closed buckets', cached
        self._kept_count = 0
        self._kept_low = math.inf
        self._kept_high = -math.inf

    def add(self, at_ms: int, value: float) -> None:
        self.update(at_ms, value)

    def update(self, at_ms: int, value: float) -> float:
        index = at_ms // self.width
        if index != self._index:
            self._turn(index, at_ms)
        else:
            closed = self._closed
            if closed and (closed[0][0] + 1) * self.width <= at_ms - self.window_ms:
                self.expire(at_ms)
        self._sum += value
        self._count += 1
        if value < self._low:  # noqa: PLR1730 (a comparison costs less than a call of min, per event)
            self._low = value
        if value > self._high:  # noqa: PLR1730
            self._high = value
        statistic = self._statistic
        if statistic == "mean":
            return (self._kept_sum + self._sum) / (self._kept_count + self._count)
        if statistic == "max":
            return self._high if self._high > self._kept_high else self._kept_high
        if statistic == "min":
            return self._low if self._low < self._kept_low else self._kept_low
        if statistic == "sum":
            return self._kept_sum + self._sum
        if statistic == "count":
            return float(self._kept_count + self._count)
        return (self._kept_sum + self._sum) * 1000 / self.window_ms  # rate

    def _turn(self, index: int, at_ms: int) -> None:
        """Close the current bucket (into the closed ones' totals), open bucket ``index``."""
        count = self._count
        if count:
            self._closed.append((self._index, self._sum, count, self._low, self._high))
            self._kept_sum += self._sum  # exact again at the next removal
            self._kept_count += count
            self._kept_low = min(self._kept_low, self._low)
            self._kept_high = max(self._kept_high, self._high)
        self._index = index
        self._sum = 0.0
        self._count = 0
        self._low = math.inf
        self._high = -math.inf
        closed = self._closed
        if closed and (closed[0][0] + 1) * self.width <= at_ms - self.window_ms:
            self.expire(at_ms)

    def expire(self, now_ms: int) -> None:
        closed = self._closed
        cutoff = now_ms - self.window_ms
        width = self.width
        removed = False
        while closed and (closed[0][0] + 1) * width <= cutoff:
            closed.popleft()
            removed = True
        if self._count and (self._index + 1) * width <= cutoff:  # the current one too: no sample since
            self._index, self._sum, self._count, self._low, self._high = -1, 0.0, 0, math.inf, -math.inf
        if removed:
            self._total_closed()

    def _total_closed(self) -> None:
        """The closed buckets' totals afresh: exact (``math.fsum``), whatever came and went."""
        closed = self._closed
        self._kept_sum = math.fsum([bucket[1] for bucket in closed])
        self._kept_count = sum([bucket[2] for bucket in closed])
        self._kept_low = min([bucket[3] for bucket in closed], default=math.inf)
        self._kept_high = max([bucket[4] for bucket in closed], default=-math.inf)

    @property
    def sum(self) -> float:
        return self._kept_sum + self._sum

    @property
    def count(self) -> int:
        return self._kept_count + self._count

    def value(self) -> float | None:
        count = self._kept_count + self._count
        if not count:
            return None
        statistic = self._statistic
        if statistic == "mean":
            return self.sum / count
        if statistic == "max":
            return max(self._high, self._kept_high)
        if statistic == "min":
            return min(self._low, self._kept_low)
        if statistic == "sum":
            return self.sum
        if statistic == "count":
            return float(count)
        return self.sum * 1000 / self.window_ms

    def empty(self) -> bool:
        return not (self._count or self._closed)

    def dump(self) -> dict[str, Any]:
        state: dict[str, Any] = {"width": self.width, "closed": [list(bucket) for bucket in self._closed]}
        if self._closed:  # the running sum as it is, not as a recount would make it
            state["kept_sum"] = self._kept_sum
        if self._count:
            state["current"] = [self._index, self._sum, self._count, self._low, self._high]
        return state

    def load(self, state: dict[str, Any]) -> None:
        self._closed.clear()
        self._index, self._sum, self._count, self._low, self._high = -1, 0.0, 0, math.inf, -math.inf
        if state.get("width") == self.width:  # else a reload changed the window: start again
            self._closed.extend((int(i), float(s), int(c), float(lo), float(hi)) for i, s, c, lo, hi in state["closed"])
            if "current" in state:
                i, s, c, lo, hi = state["current"]
                self._index, self._sum, self._count, self._low, self._high = int(i), float(s), int(c), lo, hi
        self._total_closed()
        if "kept_sum" in state and self._closed:
            self._kept_sum = float(state["kept_sum"])


class PercentileWindow:
    """A percentile of the samples, nearest rank (the smallest sample with at least
    ``percentile`` % of the samples at or below it), from a sorted copy."""

    __slots__ = ("_drops", "_over", "_percent", "_samples", "_sorted", "max_samples", "window_ms")

    def __init__(self, window_ms: int, max_samples: int, percentile: float, drops: Drops = _NO_DROPS) -> None:
        self._drops = drops
        self.window_ms = window_ms
        self.max_samples = max_samples
        # the rank, ceil(percentile / 100 * n), in integers: 99.9 is 999/10 exactly
        self._percent, over = Fraction(str(percentile)).as_integer_ratio()
        self._over = over * 100
        self._samples: deque[tuple[int, float]] = deque()
        self._sorted: list[float] = []

    def add(self, at_ms: int, value: float) -> None:
        self._samples.append((at_ms, value))
        insort(self._sorted, value)
        if len(self._samples) > self.max_samples:
            self._drops.count += 1
            self._remove()

    def update(self, at_ms: int, value: float) -> float:
        samples = self._samples
        if samples and samples[0][0] <= at_ms - self.window_ms:
            self.expire(at_ms)
        self.add(at_ms, value)
        return self._at_rank()

    def _at_rank(self) -> float:
        ordered = self._sorted
        rank = -(-self._percent * len(ordered) // self._over)
        return ordered[rank - 1 if rank > 0 else 0]

    def expire(self, now_ms: int) -> None:
        samples = self._samples
        cutoff = now_ms - self.window_ms
        while samples and samples[0][0] <= cutoff:
            self._remove()

    def _remove(self) -> None:
        _, value = self._samples.popleft()
        del self._sorted[bisect_left(self._sorted, value)]

    def value(self) -> float | None:
        return self._at_rank() if self._sorted else None

    def empty(self) -> bool:
        return not self._samples

    def dump(self) -> dict[str, Any]:
        return {"samples": [list(s) for s in self._samples]}

    def load(self, state: dict[str, Any]) -> None:
        self._samples = deque((int(t), float(v)) for t, v in state["samples"])
        self._sorted = sorted(v for _, v in self._samples)
        while len(self._samples) > self.max_samples:  # a smaller bound since the dump
            self._remove()


def window_for(
    statistic: str, window_ms: int, max_samples: int, percentile: float | None = None, drops: Drops = _NO_DROPS
) -> Window:
    """A new window answering ``statistic`` (a threshold rule's, see _rules.py)."""
    if percentile is not None:
        return PercentileWindow(window_ms, max_samples, percentile, drops)
    if statistic == "last":
        return LastWindow(window_ms)
    return BucketWindow(window_ms, statistic)
