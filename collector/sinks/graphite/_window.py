"""What was written to carbon and is not yet known to be read. Sans-I/O: the clock and
the connection's figures are handed in.

Carbon answers nothing: a body written to its socket may still be lost, in our send
buffer, in carbon's receive buffer, or in carbon's hands when it stops (a carbon-cache
that stops closes its connections without reading what waits in them). So every body
written stays here until it is *confirmed*: written ``seconds`` ago or more on a
connection still healthy, and taken by carbon's TCP (acknowledged: our send queue has
gone past its last byte). When the connection breaks instead, every body not confirmed
is taken back (:meth:`Unconfirmed.take`) to be written again. A point written twice is
stored once (carbon keeps one value per path and second), so this makes delivery at
least once and storage exactly once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(slots=True)
class Written:
    body: bytes
    count: int  #: events it carries
    at: float  #: when its write returned (monotonic seconds)
    end: int  #: bytes written on its connection up to its last byte


class Unconfirmed:
    """Bodies written and not yet confirmed, oldest first."""

    def __init__(self, seconds: float, confirmed: Callable[[bytes], None] | None = None) -> None:
        self.seconds = seconds
        self._confirmed = confirmed  #: told of each body confirmed
        self._entries: deque[Written] = deque()
        self.bytes = 0
        self.events = 0

    def __len__(self) -> int:
        return len(self._entries)

    def bodies(self) -> Iterator[bytes]:
        """The bodies not confirmed, oldest first."""
        return (entry.body for entry in self._entries)

    def written(self, body: bytes, count: int, at: float, end: int) -> None:
        self._entries.append(Written(body, count, at, end))
        self.bytes += len(body)
        self.events += count

    def confirm(self, now: float, acknowledged: int) -> int:
        """Confirm the bodies written ``seconds`` before ``now`` whose bytes the peer's
        TCP has acknowledged (``acknowledged``: bytes of the connection so far); the
        events confirmed."""
        confirmed = 0
        entries = self._entries
        while entries and entries[0].at <= now - self.seconds and entries[0].end <= acknowledged:
            confirmed += self._pop().count
        return confirmed

    def confirm_all(self) -> int:
        """Everything: carbon has shown it read the connection to its end."""
        confirmed = 0
        while self._entries:
            confirmed += self._pop().count
        return confirmed

    def take(self) -> list[tuple[bytes, int]]:
        """The connection broke: every body not confirmed, oldest first, to write again."""
        taken = [(entry.body, entry.count) for entry in self._entries]
        self._entries.clear()
        self.bytes = self.events = 0
        return taken

    def _pop(self) -> Written:
        entry = self._entries.popleft()
        self.bytes -= len(entry.body)
        self.events -= entry.count
        if self._confirmed is not None:
            self._confirmed(entry.body)
        return entry
