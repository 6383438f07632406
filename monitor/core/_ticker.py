"""A periodic deadline on a monotonic clock handed in: the sampling interval, the heartbeat.

A tick that was missed (the machine suspended, the loop late) is not made up: the next
deadline is the first multiple of the interval after now, so a late loop sends one sample,
not a burst of them.
"""

from __future__ import annotations


class Ticker:
    __slots__ = ("interval", "next_at")

    def __init__(self, interval: float, start: float, *, at_start: bool = False) -> None:
        """Due first at ``start`` when ``at_start``, else one interval after it."""
        if not interval > 0:
            raise ValueError(f"interval must be positive, got {interval}")
        self.interval = interval
        self.next_at = start if at_start else start + interval

    def due(self, now: float) -> bool:
        """Whether a tick is due at ``now``; if so, the next deadline moves past ``now``."""
        if now < self.next_at:
            return False
        missed = (now - self.next_at) // self.interval
        self.next_at += (missed + 1) * self.interval
        while self.next_at <= now:  # the division's rounding, a step at most
            self.next_at += self.interval
        return True
