"""Which body makes carbon drop the connection. Sans-I/O: the bodies are handed in.

Carbon answers nothing, so a body it cannot take (a pickle message past its
``PICKLE_RECEIVER_MAX_LENGTH``, a line past 16 KiB) shows only as the connection ending:
carbon reads what came before it, then closes. Every body not yet confirmed is written
again (_window.py), the bad one among them, and the connection breaks again, forever.

So a break makes every body it caught (written, not confirmed, and the one being written)
a *suspect*, known by its bytes' hash, which a body keeps through the spool. While a
suspect is written or unconfirmed, at most ``width`` bodies may be unconfirmed at once,
and ``width`` halves at each break (from the number it caught): a break that catches
one body alone is that body's doing. After ``max_attempts`` such breaks in a row the
body is given up (:meth:`Suspects.broke` returns it): the sink splits it to find the
points carbon refuses, or drops it when it holds one point. A suspect confirmed is
cleared; when none is left, writes are unbounded again. A break by carbon stopping is
one attempt: ``max_attempts`` of them in a row, each catching that one body alone, are
needed to give a body up.
"""

from __future__ import annotations

from collections.abc import Iterable


class Suspects:
    def __init__(self, max_attempts: int, max_entries: int = 100_000) -> None:
        self.max_attempts = max_attempts
        self.max_entries = max_entries  #: suspects remembered at most (bodies lost otherwise leave theirs)
        self._attempts: dict[int, int] = {}  # a suspect's hash: the breaks it caused alone, in a row
        self.width: int | None = None  #: bodies unconfirmed at once while a suspect is among them

    def __bool__(self) -> bool:
        return bool(self._attempts)

    def __contains__(self, body: bytes) -> bool:
        return hash(body) in self._attempts

    def attempts(self, body: bytes) -> int:
        return self._attempts.get(hash(body), 0)

    def must_wait(self, body: bytes, unconfirmed: Iterable[bytes]) -> bool:
        """Whether ``body`` must wait for bodies to be confirmed before it is written: it
        or one unconfirmed is a suspect, and ``width`` bodies are unconfirmed."""
        if not self._attempts or self.width is None:
            return False
        waiting = list(unconfirmed)
        if len(waiting) < self.width:
            return False
        return body in self or any(other in self for other in waiting)

    def add(self, body: bytes) -> None:
        """A suspect from the start (half of a body given up: carbon may refuse it too)."""
        self._attempts.setdefault(hash(body), 0)
        if self.width is None:
            self.width = 1

    def broke(self, bodies: list[bytes]) -> bytes | None:
        """The connection broke with ``bodies`` unconfirmed (oldest first; the one being
        written, if any, last): they are suspects now. One alone takes the blame; the
        body returned reached ``max_attempts`` and is forgotten: the caller splits or
        drops it."""
        if not bodies:
            return None
        for body in bodies:
            self._attempts.setdefault(hash(body), 0)
        self.width = max(1, len(bodies) // 2)
        given_up = None
        if len(bodies) == 1:
            key = hash(bodies[0])
            self._attempts[key] += 1
            if self._attempts[key] >= self.max_attempts:
                self.forget(bodies[0])
                given_up = bodies[0]
        while len(self._attempts) > self.max_entries:
            del self._attempts[next(iter(self._attempts))]  # the oldest
        return given_up

    def forget(self, body: bytes) -> None:
        """``body`` was confirmed, or given up: no suspect now."""
        if self._attempts:
            self._attempts.pop(hash(body), None)
            if not self._attempts:
                self.width = None
