"""File descriptors: the process's limit, raised at start, and the budget connections share.

Every accepted connection holds a descriptor, and so does everything else: sinks' files
(a rotation opens a new one), spools, outgoing connections, the self-metrics endpoint.
When connections take the last ones, all of that fails at once (/metrics stops
answering, a jsonl rotation fails and loses events). So the soft limit is raised to
the hard one at start, and connections get a budget, that limit minus ``fd_reserve``,
shared by every listener: past it a connection is accepted and closed at once, counted,
and the reserve stays for the rest of the process.
"""

from __future__ import annotations

import contextlib
import resource
import sys


def raise_fd_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit; (the limit before, the limit now).
    The soft limit is what the kernel enforces, and its usual default (1024) is set for
    programs that never meant to hold many connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft not in (hard, resource.RLIM_INFINITY):
        with contextlib.suppress(ValueError, OSError):  # a hard limit of infinity past fs.nr_open, say
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return _finite(soft), _finite(resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def _finite(limit: int) -> int:
    return sys.maxsize if limit == resource.RLIM_INFINITY else limit


class ConnectionBudget:
    """How many connections every listener together may hold open."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.open = 0

    def acquire(self) -> bool:
        """A place for one more connection, if there is one (then :meth:`release` it)."""
        if self.open >= self.capacity:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        self.open -= 1


def budget_for(fd_limit: int, fd_reserve: int) -> int:
    return max(fd_limit - fd_reserve, 0)
