"""Jittered, capped exponential backoff for reconnects. Pure: no sleeping here."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Delays of ``base * 2**attempt`` seconds, capped, each scaled by a random factor in
    [0.5, 1) so that many emitters restarted together do not reconnect in lockstep."""

    def __init__(self, base: float = 0.05, cap: float = 30.0, rand: Callable[[], float] = random.random) -> None:
        if base <= 0 or cap < base:
            raise ValueError(f"backoff needs 0 < base <= cap, got base={base}, cap={cap}")
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._rand = rand

    def next_delay(self) -> float:
        # The exponent stops growing long past any sane cap, so 2**attempt cannot overflow.
        delay = min(self.cap, self.base * float(2 ** min(self.attempt, 32)))
        self.attempt += 1
        return delay * (0.5 + self._rand() / 2)

    def reset(self) -> None:
        self.attempt = 0
