"""What every sink is: something one task hands batches to, one at a time.

A sink's life has three steps, so that whatever step fails, the next knows what it holds:
``__init__`` builds all of its state from its options and acquires nothing (it may raise,
and then there is nothing to release); :meth:`Sink.open` acquires what it writes to
(files, sockets, a spool) and nothing else; :meth:`Sink.close` releases what open()
acquired, and is called once, also after an open() that failed part way, so each
resource closes safely whether or not it was opened.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar, Generic, TypeVar

import trio

from ..config import Config, SinkConfig
from ..observe import SelfMetrics, SinkStats
from ..wire import Batch

OptionsT = TypeVar("OptionsT")


class Sink(ABC, Generic[OptionsT]):
    """A destination for events. ``write`` is called by the sink's own task only, so a
    sink needs no locking; a slow one slows nobody else (its queue absorbs the strain).

    ``write`` either succeeds or raises: the runner counts the batch as lost. A sink that
    can wait for its destination to come back (forward, remote stores) retries inside
    ``write`` instead. ``write`` encodes the whole batch before any I/O, so when encoding
    fails (TypeError, ValueError, ArithmeticError) nothing was written, and the runner
    can write the batch's halves without writing anything twice.
    """

    kind: ClassVar[str]  #: what the configuration calls it in "type"
    Options: type[OptionsT]  #: the dataclass of its own keys (a :class:`~collector.config.SinkOptions`)
    #: Most events handed to one write().
    batch_events: int = 10_000
    #: Writes from the events' JSON lines (``batch.raw``), decoding only the events it
    #: cannot write from their lines (``batch.event(i)``): a numbat listener then hands it
    #: lines of the usual shape undecoded (collector.wire's Batch.add_lines). Whatever it
    #: says, ``batch.events`` is always right; this is only about what it costs.
    takes_lines: bool = False
    #: Reads the listener's scan of those lines too (``batch.scanned``, collector.wire's
    #: ScannedLines): a numbat listener then keeps it with the batch, which costs memory
    #: while the batch waits in a queue, so only when some sink reads it.
    takes_scans: bool = False

    def __init__(self, config: SinkConfig, stats: SinkStats | None = None, state_dir: Path | None = None) -> None:
        options = config.options
        if not isinstance(options, self.Options):
            raise TypeError(f"a {self.kind} sink takes {self.Options.__name__}, not {type(options).__name__}")
        self.config = config
        self.options: OptionsT = options
        self.stats = stats or SinkStats(SelfMetrics(), config.name, config.type)
        #: Where a sink keeps what must outlive the process (its spool).
        self.state_dir = Path(state_dir or Config.state_dir) / config.name
        #: Seconds the runner waits for a batch of ``batch_events`` to gather.
        self.linger = 0.0

    @property
    def name(self) -> str:
        return self.config.name

    async def open(self) -> None:
        """Acquire what the sink writes to; raise to refuse to start."""

    @abstractmethod
    async def write(self, batch: Batch) -> None: ...

    async def maintain(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Background work beside the writes (replaying a spool, requests in flight):
        report started, then run until cancelled at stop."""
        task_status.started()

    async def flush(self) -> None:
        """At a stop, after the last write(): wait for work still in flight."""

    def salvage(self, batch: Batch) -> bool:
        """At a stop with events still queued: keep ``batch`` somewhere durable, at once,
        without the network; True if kept. By default nothing can be kept."""
        return False

    async def close(self) -> None:
        """Release what open() acquired; called once, also after an open() that failed."""

    def pending(self) -> dict[str, int]:
        """What the sink still holds for later (events in a spool), for the stop's log."""
        return {}
