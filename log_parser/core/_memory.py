"""What counters made one after another may hand on to the next. Sans-I/O.

Strategy: an opaque holder, so that a shell (a backfill worker, which makes a counter per
object) can keep what the compiled counter learns of paths from one log to the next
without importing the compiled counter, which alone knows what the holder holds.
"""

from __future__ import annotations


class CounterMemory:
    """What the counters made one after another in one thread may hand on to the next:
    the compiled counter's known paths and what the tarball rule made of each. A shell
    that counts many logs in a thread keeps one per thread and gives it to each counter
    it makes; never to counters of two threads."""

    def __init__(self) -> None:
        self.held: object = None
