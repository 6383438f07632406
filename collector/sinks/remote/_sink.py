"""What every sink that talks to a remote store shares: requests in flight, retries with
backoff, and the disk spool that keeps batches while the store is away.

A subclass says how a batch becomes request bodies (:meth:`RemoteSink.encode`) and how
one body is delivered (:meth:`RemoteSink.deliver`, raising :class:`Unavailable` when the
store cannot accept it now). Bodies are delivered directly while the store answers and
nothing waits in the spool; otherwise they are appended to the spool, which one task
replays, oldest first, until it is empty again.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import trio

from emitter.backoff import Backoff

from ...config import SinkConfig, require
from ...observe import SinkStats, log
from ...wire import Batch
from .._base import Sink
from ._spool import Fsync, Spool


class Unavailable(Exception):
    """The store cannot accept writes now; the same body may succeed later, after
    ``retry_after`` seconds when the store said so (HTTP's Retry-After)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class SpoolOptions:
    enabled: bool = True
    #: Default: <state_dir>/<sink name>/spool.
    dir: str = ""
    max_bytes: int = 1 << 30  #: past it, the oldest segments go (counted)
    segment_bytes: int = 16 << 20
    fsync: Fsync = "interval"  #: what a crash of the machine may cost: always, interval or never
    fsync_interval: float = 1.0

    def __post_init__(self) -> None:
        require(self.max_bytes > 0, "max_bytes", "must be positive")
        require(0 < self.segment_bytes <= self.max_bytes // 2, "segment_bytes", "must be at most half of max_bytes")
        require(self.fsync_interval > 0, "fsync_interval", "must be positive")


class RemoteOptions(Protocol):
    """What every remote sink's options say, beside their own keys."""

    @property
    def retry_base(self) -> float: ...  # first retry delay, seconds, doubling and jittered
    @property
    def retry_cap(self) -> float: ...
    @property
    def max_in_flight(self) -> int: ...  # requests at once
    @property
    def spool(self) -> SpoolOptions: ...


RemoteOptionsT = TypeVar("RemoteOptionsT", bound=RemoteOptions)


class RemoteSink(Sink[RemoteOptionsT]):
    """A sink whose options carry ``retry_base``, ``retry_cap``, ``max_in_flight`` and
    ``spool`` (:class:`RemoteOptions`)."""

    store = "the store"  #: how logs name the other end

    def __init__(self, config: SinkConfig, stats: SinkStats | None = None, state_dir: Path | None = None) -> None:
        super().__init__(config, stats, state_dir)
        options = self.options
        self._backoff = Backoff(options.retry_base, options.retry_cap)
        self._available = True
        self._in_flight = trio.Semaphore(options.max_in_flight)  #: one token per request under way
        self._tasks: trio.Nursery | None = None
        self._spool_lock = trio.Lock()
        self._spooled = trio.Event()
        self._reported_drops = 0
        spool = options.spool
        self._spool = (
            Spool(
                Path(spool.dir) if spool.dir else self.state_dir / "spool",
                max_bytes=spool.max_bytes,
                segment_bytes=spool.segment_bytes,
                fsync=spool.fsync,
                fsync_interval=spool.fsync_interval,
            )
            if spool.enabled
            else None
        )

    @abstractmethod
    def encode(self, batch: Batch) -> list[tuple[bytes, int]]:
        """Request bodies for ``batch``, each with the number of events it carries."""

    @abstractmethod
    async def deliver(self, body: bytes) -> None:
        """Send one body; raise Unavailable when the store cannot accept it now."""

    async def transmit(self, body: bytes, count: int) -> None:
        """Deliver ``body``, which carries ``count`` events, and count them delivered: the
        store has them once it answered. A store that answers nothing (carbon) overrides
        this to count them once it knows they were read."""
        await self.deliver(body)
        self.stats.delivered(count)

    # -- life ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the spool, where an earlier run may have left batches to replay."""
        spool = self._spool
        if spool is not None:
            await trio.to_thread.run_sync(spool.open)
            if spool.foreign_files:
                log.warning(
                    "files in the spool's folder that it did not write are left alone, not replayed",
                    extra={"sink": self.name, "files": spool.foreign_files[:10], "count": len(spool.foreign_files)},
                )
            self.stats.watch_spool(lambda: spool.size_bytes, lambda: spool.events)
            if spool.events:
                log.info("replaying an earlier run's spool", extra={"sink": self.name, "events": spool.events})

    async def maintain(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the requests in flight, and replay the spool whenever it holds anything."""
        async with trio.open_nursery() as tasks:
            self._tasks = tasks
            task_status.started()
            if self._spool is not None:
                await self._replay(self._spool)

    async def flush(self) -> None:
        for _ in range(self.options.max_in_flight):
            await self._in_flight.acquire()
        for _ in range(self.options.max_in_flight):
            self._in_flight.release()

    def salvage(self, batch: Batch) -> bool:
        if self._spool is None:
            return False
        for body, count in self.encode(batch):
            self._spool.append(body, count)
            self.stats.spooled(count)
        return True

    def pending(self) -> dict[str, int]:
        return {"spooled_for_replay": self._spool.events} if self._spool is not None else {}

    async def close(self) -> None:
        if self._spool is not None:
            await trio.to_thread.run_sync(self._spool.close)

    # -- writing -------------------------------------------------------------------------

    async def write(self, batch: Batch) -> None:
        """Hand each body to a request of its own, at most ``max_in_flight`` at once."""
        assert self._tasks is not None, "maintain() runs beside write()"
        for body, count in self.encode(batch):
            await self._in_flight.acquire()
            self._tasks.start_soon(self._request, body, count)
            # let the request go out now: else it would wait for the next batch's encoding
            # (no checkpoint until then), and the store would idle while numbatd encodes
            await trio.lowlevel.checkpoint()

    async def _request(self, body: bytes, count: int) -> None:
        try:
            await self._send(body, count)
        except trio.Cancelled:
            # A stop cut the request short: keep the body in the spool (it may also have
            # arrived; the stores we spool for take a batch twice as once).
            with trio.CancelScope(shield=True):
                if self._spool is not None:
                    await self._to_spool(body, count)
                else:
                    self.stats.dropped_stopped(count)
            raise
        finally:
            self._in_flight.release()

    async def _send(self, body: bytes, count: int) -> None:
        spool = self._spool
        if spool is not None and (not self._available or spool.events):
            await self._to_spool(body, count)  # behind what waits there, in order
            return
        while True:
            try:
                await self.transmit(body, count)
            except Unavailable as exc:
                self._went_away(exc)
                if spool is not None:
                    await self._to_spool(body, count)
                    return
                await trio.sleep(self._retry_delay(exc))  # no spool: hold on and retry
                continue
            self._came_back()
            return

    async def _to_spool(self, body: bytes, count: int) -> None:
        assert self._spool is not None
        async with self._spool_lock:
            await trio.to_thread.run_sync(self._spool.append, body, count)
        self.stats.spooled(count)
        self._spooled.set()

    def _went_away(self, exc: Exception) -> None:
        self.stats.retried()
        if self._available:
            log.warning(f"{self.store} unavailable; spooling", extra={"sink": self.name, "error": str(exc)})
        self._available = False

    def _retry_delay(self, exc: Unavailable) -> float:
        """The next backoff delay, or longer when the store asked for longer (the sink
        that read the store's answer bounds what it may ask)."""
        delay = self._backoff.next_delay()
        return delay if exc.retry_after is None else max(delay, exc.retry_after)

    def _came_back(self) -> None:
        if not self._available:
            log.info(f"{self.store} available again", extra={"sink": self.name})
        self._available = True
        self._backoff.reset()

    # -- replaying -----------------------------------------------------------------------

    async def _replay(self, spool: Spool) -> None:
        while True:
            async with self._spool_lock:
                damaged = spool.counters.damaged_stretches
                record = await trio.to_thread.run_sync(spool.peek)
                self._count_spool_losses(spool, damaged)
            if record is None:
                self._spooled = trio.Event()
                await self._spooled.wait()
                continue
            try:
                await self.transmit(record.payload, record.count)
            except Unavailable as exc:
                self._went_away(exc)
                await trio.sleep(self._retry_delay(exc))
                continue
            async with self._spool_lock:
                await trio.to_thread.run_sync(spool.commit, record)
            self.stats.replayed(record.count)
            self._came_back()

    def _count_spool_losses(self, spool: Spool, damaged_before: int) -> None:
        counters = spool.counters
        if counters.damaged_stretches > damaged_before:
            self.stats.spool_damaged(counters.damaged_stretches - damaged_before)
            log.warning("spool damage skipped", extra={"sink": self.name, "stretches": counters.damaged_stretches})
        if counters.dropped_events > self._reported_drops:
            self.stats.dropped_spool_cap(counters.dropped_events - self._reported_drops)
            self._reported_drops = counters.dropped_events
