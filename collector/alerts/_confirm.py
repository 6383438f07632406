"""``for``: when a key's evaluations have breached long enough to count.

Strategy: severities are levels, ok 0 < warning 1 < unknown 2 < critical 3 (Icinga's
order: an unknown is worse than a warning, better than a critical). For each level a
key keeps its current run: since when every evaluation was at that level or above, and
how many counted evaluations the run holds. The verdict is the highest level whose run
is long enough in both senses (``for_seconds`` and ``for_evaluations``); a run ends at
the first evaluation below its level, so a critical then a warning make the critical
run end and the warning run go on. Only evaluations that are checks count towards
``for_evaluations`` (an event; not a threshold's re-evaluation of an aged window), but
any evaluation below a level ends its run.

The count of the lowest run is also the count of failing checks in a row that a rule's
``remediate_after`` reads.
"""

from __future__ import annotations

from typing import Any

from ._model import Severity

SEVERITIES: tuple[Severity, ...] = ("ok", "warning", "unknown", "critical")
LEVELS: dict[str, int] = {severity: level for level, severity in enumerate(SEVERITIES)}


class Runs:
    """A key's runs at or above each level (1..3)."""

    __slots__ = ("counts", "since")

    def __init__(self) -> None:
        self.since: list[int | None] = [None, None, None, None]
        self.counts = [0, 0, 0, 0]

    def record(self, level: int, at_ms: int, counted: bool) -> None:
        since, counts = self.since, self.counts
        for run in (1, 2, 3):
            if level >= run:
                if since[run] is None:
                    since[run] = at_ms
                    counts[run] = 0
                if counted:
                    counts[run] += 1
            else:
                since[run] = None
                counts[run] = 0

    def verdict(self, at_ms: int, for_ms: int, for_count: int) -> int:
        """The highest level held for ``for_ms`` and ``for_count`` evaluations at ``at_ms``."""
        since, counts = self.since, self.counts
        for run in (3, 2, 1):
            start = since[run]
            if start is not None and counts[run] >= for_count and at_ms - start >= for_ms:
                return run
        return 0

    def confirm_due(self, at_ms: int, for_ms: int, for_count: int) -> int | None:
        """When a run that has its evaluations will have lasted ``for_ms``, if that is
        after ``at_ms``: the time to look again."""
        due = None
        for run in (1, 2, 3):
            start = self.since[run]
            if start is not None and self.counts[run] >= for_count and start + for_ms > at_ms:
                due = start + for_ms if due is None else min(due, start + for_ms)
        return due

    @property
    def failing(self) -> int:
        """Counted evaluations in a row at warning or worse."""
        return self.counts[1]

    @property
    def idle(self) -> bool:
        return self.since[1] is None

    def dump(self) -> list[Any]:
        return [self.since[1:], self.counts[1:]]

    @classmethod
    def load(cls, state: list[Any]) -> Runs:
        runs = cls()
        runs.since[1:] = [None if s is None else int(s) for s in state[0]]
        runs.counts[1:] = [int(c) for c in state[1]]
        return runs
