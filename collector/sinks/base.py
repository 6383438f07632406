"""What every sink is: something one task hands batches to, one at a time."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import trio

from ..events import Batch
from ..selfmetrics import SelfMetrics, SinkStats

if TYPE_CHECKING:
    from ..config import SinkConfig


class Sink(ABC):
    """A destination for events. ``write`` is called by the sink's own task only, so a
    sink needs no locking; a slow one slows nobody else (its queue takes the strain).

    ``write`` either succeeds or raises: the runner counts the batch as lost. A sink that
    can wait for its destination to come back (forward, remote stores) retries inside
    ``write`` instead. ``write`` encodes the whole batch before any I/O, so when encoding
    fails (TypeError, ValueError, ArithmeticError) nothing was written, and the runner
    can write the batch's halves without writing anything twice.
    """

    kind: ClassVar[str]  #: what the configuration calls it in "type"
    Options: ClassVar[type[Any]]
    #: Most events handed to one write().
    batch_events: int = 10_000

    def __init__(self, config: SinkConfig, stats: SinkStats | None = None, state_dir: Path | None = None) -> None:
        self.config = config
        self.options = config.options
        self.stats = stats or SinkStats(SelfMetrics(), config.name, config.type)
        #: Where a sink keeps what must outlive the process (its spool).
        self.state_dir = (state_dir or Path("numbatd-state")) / config.name
        #: Seconds the runner waits for a batch of ``batch_events`` to gather.
        self.linger = 0.0

    @property
    def name(self) -> str:
        return self.config.name

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Acquire what the sink writes to; raise to refuse to start."""

    @abstractmethod
    async def write(self, batch: Batch) -> None: ...

    async def maintain(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Background work beside the writes (replaying a spool, requests in flight):
        report started, then run until cancelled at stop."""
        task_status.started()

    async def flush(self) -> None:  # noqa: B027 - optional hook
        """At a stop, after the last write(): wait for work still in flight."""

    def salvage(self, batch: Batch) -> bool:
        """At a stop with events still queued: keep ``batch`` somewhere durable, at once,
        without the network; True if kept. By default nothing can be kept."""
        return False

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release it; called once, also after a failed open()."""

    def pending(self) -> dict[str, int]:
        """What the sink still holds for later (events in a spool), for the stop's log."""
        return {}
