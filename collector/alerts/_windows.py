"""Per-key sliding windows of samples and the statistic a rule reads from them.

Strategy: a window keeps the samples of the last ``window_ms`` (a sample at ``t`` is in
the window at ``now`` while ``t > now - window_ms``), at most ``max_samples`` of them
(the oldest go first, counted in the rule's :class:`Drops`), and answers its one
statistic in constant time per sample (:meth:`update` adds one and answers at once):
``last`` keeps one sample; sums, counts, means and rates keep a running sum (compensated,
and recomputed with ``math.fsum`` every so many removals, so it does not drift); min and max
keep a monotonic deque beside the samples; percentiles a sorted list (an insertion is a
memmove). The clock is the caller's.

``dump`` and ``load`` give a window's whole state as JSON-able lists, so a window loaded
from a dump answers exactly as the one dumped (the running sum is dumped, not re-added).
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from fractions import Fraction
from typing import Any, Protocol

#: Removals after which a running sum is recomputed from its samples.
_RESUM_AFTER = 4096


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


class SumWindow:
    """The samples' sum, count, mean or rate (sum per second of window)."""

    __slots__ = ("_drops", "_error", "_removed", "_samples", "_statistic", "max_samples", "total", "window_ms")

    def __init__(self, window_ms: int, max_samples: int, statistic: str = "sum", drops: Drops = _NO_DROPS) -> None:
        self._drops = drops
        self.window_ms = window_ms
        self.max_samples = max_samples
        self._statistic = statistic
        self._samples: deque[tuple[int, float]] = deque()
        self.total = 0.0
        self._error = 0.0
        self._removed = 0

    def add(self, at_ms: int, value: float) -> None:
        samples = self._samples
        samples.append((at_ms, value))
        self._accumulate(value)
        if len(samples) > self.max_samples:
            self._drops.count += 1
            self._remove()

    def update(self, at_ms: int, value: float) -> float:
        samples = self._samples
        if samples and samples[0][0] <= at_ms - self.window_ms:
            self.expire(at_ms)
        samples.append((at_ms, value))
        total = self.total  # _accumulate, inline: this is the path of every event
        new = total + value
        if (total if total >= 0 else -total) >= (value if value >= 0 else -value):
            self._error += (total - new) + value
        else:
            self._error += (value - new) + total
        self.total = new
        if len(samples) > self.max_samples:
            self._drops.count += 1
            self._remove()
        statistic = self._statistic
        if statistic == "mean":
            return (self.total + self._error) / len(samples)
        if statistic == "sum":
            return self.total + self._error
        if statistic == "count":
            return float(len(samples))
        return (self.total + self._error) * 1000 / self.window_ms

    def expire(self, now_ms: int) -> None:
        samples = self._samples
        cutoff = now_ms - self.window_ms
        while samples and samples[0][0] <= cutoff:
            self._remove()

    def _accumulate(self, value: float) -> None:
        """``total += value``, the rounding error kept in ``_error`` (Neumaier's sum): a
        huge sample that comes and goes takes no small ones with it."""
        total = self.total
        new = total + value
        if (total if total >= 0 else -total) >= (value if value >= 0 else -value):
            self._error += (total - new) + value
        else:
            self._error += (value - new) + total
        self.total = new

    def _remove(self) -> None:
        _, value = self._samples.popleft()
        self._removed += 1
        if not self._samples:
            self.total = self._error = 0.0
            self._removed = 0
        elif self._removed >= _RESUM_AFTER:
            self.total = math.fsum(v for _, v in self._samples)
            self._error = 0.0
            self._removed = 0
        else:
            self._accumulate(-value)

    @property
    def sum(self) -> float:
        return self.total + self._error

    def value(self) -> float | None:
        count = len(self._samples)
        if not count:
            return None
        statistic = self._statistic
        total = self.total + self._error
        if statistic == "sum":
            return total
        if statistic == "mean":
            return total / count
        if statistic == "count":
            return float(count)
        return total * 1000 / self.window_ms  # rate

    def empty(self) -> bool:
        return not self._samples

    def dump(self) -> dict[str, Any]:
        return {
            "samples": [list(s) for s in self._samples],
            "total": self.total,
            "error": self._error,
            "removed": self._removed,
        }

    def load(self, state: dict[str, Any]) -> None:
        self._samples = deque((int(t), float(v)) for t, v in state["samples"])
        total = state.get("total")  # absent when the window answered another statistic before
        self.total = math.fsum(v for _, v in self._samples) if total is None else float(total)
        self._error = float(state.get("error", 0.0))
        self._removed = int(state.get("removed", 0))
        while len(self._samples) > self.max_samples:  # a smaller bound since the dump
            self._remove()


class ExtremeWindow:
    """The samples' min or max: beside the samples, the ones no later sample beats (a
    monotonic deque), so the answer is its first."""

    __slots__ = ("_added", "_best", "_drops", "_samples", "_sign", "max_samples", "window_ms")

    def __init__(self, window_ms: int, max_samples: int, statistic: str = "max", drops: Drops = _NO_DROPS) -> None:
        self._drops = drops
        self.window_ms = window_ms
        self.max_samples = max_samples
        self._sign = 1.0 if statistic == "max" else -1.0
        self._samples: deque[tuple[int, float]] = deque()
        self._best: deque[tuple[int, float]] = deque()  # (sequence number, sign * value), decreasing
        self._added = 0

    def add(self, at_ms: int, value: float) -> None:
        samples = self._samples
        samples.append((at_ms, value))
        signed = self._sign * value
        best = self._best
        while best and best[-1][1] <= signed:
            best.pop()
        best.append((self._added, signed))
        self._added += 1
        if len(samples) > self.max_samples:
            self._drops.count += 1
            samples.popleft()
            self._trim()

    def update(self, at_ms: int, value: float) -> float:
        samples = self._samples
        if samples and samples[0][0] <= at_ms - self.window_ms:
            self.expire(at_ms)
        samples.append((at_ms, value))  # add, inline
        signed = self._sign * value
        best = self._best
        while best and best[-1][1] <= signed:
            best.pop()
        best.append((self._added, signed))
        self._added += 1
        if len(samples) > self.max_samples:
            self._drops.count += 1
            samples.popleft()
            self._trim()
        return self._sign * best[0][1]

    def expire(self, now_ms: int) -> None:
        samples = self._samples
        cutoff = now_ms - self.window_ms
        if samples and samples[0][0] <= cutoff:
            while samples and samples[0][0] <= cutoff:
                samples.popleft()
            self._trim()

    def _trim(self) -> None:
        first = self._added - len(self._samples)
        best = self._best
        while best and best[0][0] < first:
            best.popleft()

    def value(self) -> float | None:
        return self._sign * self._best[0][1] if self._best else None

    def empty(self) -> bool:
        return not self._samples

    def dump(self) -> dict[str, Any]:
        return {"samples": [list(s) for s in self._samples]}

    def load(self, state: dict[str, Any]) -> None:
        self._samples.clear()
        self._best.clear()
        self._added = 0
        for at, value in state["samples"]:
            self.add(int(at), float(value))


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
    if statistic in ("min", "max"):
        return ExtremeWindow(window_ms, max_samples, statistic, drops)
    return SumWindow(window_ms, max_samples, statistic, drops)
