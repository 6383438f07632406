"""When the child has started: the rule, with the clock handed in.

A service has started once it (or any process it started) listens on a TCP port. The
detector is asked whether a check is due; the shell then looks up the listening ports
and hands them in. Checks come quickly at first (a service that listens within 50 ms is
seen within 50 ms) and back off to ``max_check`` apart, so that a service that takes a
minute to start costs a few dozen lookups. The outcome, once, is :class:`Started` (the
ports, the seconds it took) or :class:`NotStarted`: no port after ``timeout`` seconds,
or the child exited before it listened. A ``timeout`` of 0 means the command is not a
server: it counts as started at once, on whatever ports (usually none).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Started:
    ports: tuple[int, ...]  #: sorted, each once
    seconds: float  #: from spawn to the check that saw them
    waited: bool = True  #: False when no port was waited for (a timeout of 0)


@dataclass(frozen=True, slots=True)
class NotStarted:
    reason: Literal["timeout", "exited"]
    seconds: float  #: from spawn to the decision


Outcome = Started | NotStarted


class StartDetector:
    __slots__ = ("_delay", "max_check", "next_check_at", "outcome", "spawned_at", "timeout")

    def __init__(self, spawned_at: float, timeout: float, *, first_check: float = 0.05, max_check: float = 1.0) -> None:
        if timeout < 0:
            raise ValueError(f"timeout must not be negative, got {timeout}")
        if not 0 < first_check <= max_check:
            raise ValueError("checks need 0 < first_check <= max_check")
        self.spawned_at = spawned_at
        self.timeout = timeout
        self.max_check = max_check
        self._delay = first_check
        self.next_check_at = spawned_at if timeout == 0 else spawned_at + first_check
        self.outcome: Outcome | None = None

    @property
    def decided(self) -> bool:
        return self.outcome is not None

    def due(self, now: float) -> bool:
        return self.outcome is None and now >= self.next_check_at

    def check(self, now: float, listening: Callable[[], frozenset[int]]) -> Outcome | None:
        """At a due check: the outcome, when this check decides it. ``listening`` gives the
        ports the child's processes listen on; it is called only when they matter."""
        if self.outcome is not None:
            return None
        seconds = max(0.0, now - self.spawned_at)
        if self.timeout == 0:
            return self._decide(Started(tuple(sorted(listening())), seconds, waited=False))
        ports = listening()
        if ports:
            return self._decide(Started(tuple(sorted(ports)), seconds))
        if seconds >= self.timeout:
            return self._decide(NotStarted("timeout", seconds))
        self._delay = min(self._delay * 2, self.max_check)
        # the last check falls on the timeout itself, not up to max_check after it
        self.next_check_at = min(now + self._delay, self.spawned_at + self.timeout)
        return None

    def exited(self, now: float) -> Outcome | None:
        """The child exited: :class:`NotStarted` if it had not started, else nothing."""
        if self.outcome is not None:
            return None
        return self._decide(NotStarted("exited", max(0.0, now - self.spawned_at)))

    def _decide(self, outcome: Outcome) -> Outcome:
        self.outcome = outcome
        return outcome
