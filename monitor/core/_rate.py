"""A token bucket: how many of the child's lines become events, with the clock handed in.

``rate`` lines a second on average, up to ``burst`` at once; a line that finds the bucket
empty is dropped and counted, never queued (a child printing without pause must not fill
numbat-run's memory or the collector). The clock is the caller's (monotonic seconds), so
tests drive it; a clock that goes backwards refills nothing.
"""

from __future__ import annotations


class RateLimiter:
    __slots__ = ("_last", "_tokens", "allowed", "burst", "dropped", "rate", "reported")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last = now
        self.allowed = 0  #: lines let through, in all
        self.dropped = 0  #: lines refused, in all
        self.reported = 0  #: of ``dropped``, how many :meth:`take_dropped` has handed out

    def allow(self, now: float) -> bool:
        """Whether one more line may go now; counts it either way."""
        if now > self._last:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
            self._last = now
        if self._tokens >= 1.0 - 1e-9:  # lines exactly 1/rate apart all go, float sums notwithstanding
            self._tokens = max(0.0, self._tokens - 1.0)
            self.allowed += 1
            return True
        self.dropped += 1
        return False

    def take_dropped(self) -> int:
        """Lines dropped since the last call: what the next drop report says."""
        count = self.dropped - self.reported
        self.reported = self.dropped
        return count
