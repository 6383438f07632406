"""InfluxDB: numbat's main store, with a disk spool so an outage loses nothing.

Events become line protocol (see :mod:`collector.lineprotocol`), batched by size and
by time, and go to the v2 write API through influxdb-client or to the v1 ``/write``
of older servers. While InfluxDB is away, or a restart interrupts, batches go to the
spool and are replayed in order once it answers again; new events queue behind them.
A batch InfluxDB refuses (400) is split until the bad points are found: those are
dropped and counted, the good ones land.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import trio

from emitter.backoff import Backoff

from ..cardinality import SeriesGuard
from ..events import Batch
from ..lineprotocol import LineEncoder
from ..logs import log
from ..schema import require
from ..spool import Fsync, Spool
from .base import Sink
from .influx_writers import BadPoints, Unavailable, V1Writer, V2Writer, Writer


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


@dataclass(frozen=True)
class InfluxOptions:
    url: str = "http://127.0.0.1:8086"
    #: "v2": /api/v2/write (InfluxDB 1.8+, 2.x, 3.x, Cloud); "v1": /write of older 1.x.
    api: Literal["v2", "v1"] = "v2"
    token: str = ""
    org: str = ""
    bucket: str = ""
    database: str = ""
    retention_policy: str = ""
    username: str = ""
    password: str = ""
    batch_size: int = 5_000  #: points per request
    max_in_flight: int = 2  #: requests at once, so encoding overlaps InfluxDB's work
    flush_interval: float = 1.0  #: seconds a smaller batch waits to fill
    timeout: float = 10.0
    retry_base: float = 0.5  #: first retry delay, seconds, doubling and jittered
    retry_cap: float = 30.0
    fields: tuple[str, ...] = ()  #: event keys written as fields beside value
    tags: tuple[str, ...] = ()  #: if set, the only keys written as tags
    integers_as_floats: bool = True
    write_heartbeats: bool = False
    max_series_per_measurement: int = 10_000
    max_series: int = 1_000_000
    spool: SpoolOptions = field(default_factory=SpoolOptions)

    def __post_init__(self) -> None:
        require(self.url.startswith(("http://", "https://")), "url", f"{self.url!r} is not an http(s) URL")
        if self.api == "v2":
            require(bool(self.bucket), "bucket", "required with api = 'v2'")
        else:
            require(bool(self.database), "database", "required with api = 'v1'")
        for key in ("batch_size", "max_in_flight", "max_series_per_measurement", "max_series"):
            require(getattr(self, key) > 0, key, "must be positive")
        for key in ("flush_interval", "timeout", "retry_base"):
            require(getattr(self, key) > 0, key, "must be positive")
        require(self.retry_cap >= self.retry_base, "retry_cap", "must be at least retry_base")


def is_heartbeat(name: str) -> bool:
    return name == "heartbeat" or name.endswith(".heartbeat")


class InfluxSink(Sink):
    kind = "influxdb"
    Options = InfluxOptions

    async def open(self) -> None:
        options: InfluxOptions = self.options
        self.batch_events = options.batch_size
        self.linger = options.flush_interval
        self._guard = SeriesGuard(options.max_series_per_measurement, options.max_series)
        self._warned_cardinality: set[str] = set()
        self._encoder = LineEncoder(
            options.fields,
            options.tags,
            options.integers_as_floats,
            skip=None if options.write_heartbeats else is_heartbeat,
            admit=self._admit,
        )
        self._backoff = Backoff(options.retry_base, options.retry_cap)
        self._writer = self._make_writer(options)
        self._spool: Spool | None = None
        self._spool_lock = trio.Lock()
        self._spooled_since_wake = trio.Event()
        self._available = True
        self._slots = trio.Semaphore(options.max_in_flight)
        self._tasks: trio.Nursery | None = None
        if options.spool.enabled:
            spool_options = options.spool
            self._spool = Spool(
                Path(spool_options.dir) if spool_options.dir else self.state_dir / "spool",
                max_bytes=spool_options.max_bytes,
                segment_bytes=spool_options.segment_bytes,
                fsync=spool_options.fsync,
                fsync_interval=spool_options.fsync_interval,
            )
            await trio.to_thread.run_sync(self._spool.open)
            spool = self._spool
            self.stats.watch_spool(lambda: spool.size_bytes, lambda: spool.events)
            if spool.events:
                log.info(
                    "replaying the spool left by an earlier run", extra={"sink": self.name, "events": spool.events}
                )

    def _make_writer(self, options: InfluxOptions) -> Writer:
        observe = self.stats.request_seconds.observe
        if options.api == "v2":
            return V2Writer(
                url=options.url,
                token=options.token,
                org=options.org,
                bucket=options.bucket,
                timeout=options.timeout,
                observe=observe,
            )
        return V1Writer(
            url=options.url,
            database=options.database,
            retention_policy=options.retention_policy,
            username=options.username,
            password=options.password,
            timeout=options.timeout,
            observe=observe,
        )

    # -- encoding ------------------------------------------------------------------------

    def encode(self, batch: Batch) -> list[tuple[bytes, int]]:
        """Request bodies of at most ``batch_size`` lines for the events worth writing,
        each with its number of lines."""
        lines, left_out = self._encoder.encode_all(batch.events)
        for reason, count in left_out.items():
            if count:
                self.stats.skipped("heartbeat" if reason == "skipped" else reason, count)
        size = self.options.batch_size
        return [("\n".join(lines[i : i + size]).encode(), len(lines[i : i + size])) for i in range(0, len(lines), size)]

    def _admit(self, measurement: str, series: str) -> bool:
        if self._guard.admit(measurement, series):
            return True
        if measurement not in self._warned_cardinality:
            self._warned_cardinality.add(measurement)
            log.warning(
                "series limit reached: new series dropped", extra={"sink": self.name, "measurement": measurement}
            )
        return False

    # -- writing -------------------------------------------------------------------------

    async def write(self, batch: Batch) -> None:
        """Hand each body to a request of its own, at most ``max_in_flight`` at once."""
        assert self._tasks is not None, "maintain() runs beside write()"
        for body, count in self.encode(batch):
            await self._slots.acquire()
            self._tasks.start_soon(self._request, body, count)

    async def _request(self, body: bytes, count: int) -> None:
        try:
            # Shielded: a body is delivered or spooled, never dropped by a stop (the
            # request's own timeout bounds the wait).
            with trio.CancelScope(shield=True):
                await self._write_body(body, count)
        finally:
            self._slots.release()

    async def flush(self) -> None:
        for _ in range(self.options.max_in_flight):
            await self._slots.acquire()
        for _ in range(self.options.max_in_flight):
            self._slots.release()

    async def _write_body(self, body: bytes, count: int) -> None:
        spool = self._spool
        if spool is not None and (not self._available or spool.events):
            await self._to_spool(body, count)  # behind what waits there, in order
            return
        while True:
            try:
                await trio.to_thread.run_sync(self._deliver, body)
            except Unavailable as exc:
                self._went_away(exc)
                if spool is not None:
                    await self._to_spool(body, count)
                    return
                await trio.sleep(self._backoff.next_delay())  # no spool: hold the queue and retry
                continue
            self._came_back()
            return

    def _deliver(self, body: bytes) -> None:
        """Write ``body``; split what InfluxDB refuses until only the bad points are left
        out. Runs in a worker thread. Raises Unavailable when the store is away."""
        try:
            self._writer.write(body)
        except BadPoints as exc:
            lines = body.split(b"\n")
            if len(lines) == 1:
                self.stats.skipped("refused by the store")
                log.warning(
                    "InfluxDB refused a point",
                    extra={"sink": self.name, "reason": str(exc), "line": body[:300].decode("utf-8", "replace")},
                )
                return
            middle = len(lines) // 2
            self._deliver(b"\n".join(lines[:middle]))
            self._deliver(b"\n".join(lines[middle:]))

    def _went_away(self, exc: Exception) -> None:
        self.stats.retried()
        if self._available:
            log.warning("InfluxDB unavailable; spooling", extra={"sink": self.name, "error": str(exc)})
        self._available = False

    def _came_back(self) -> None:
        if not self._available:
            log.info("InfluxDB available again", extra={"sink": self.name})
        self._available = True
        self._backoff.reset()

    async def _to_spool(self, body: bytes, count: int) -> None:
        assert self._spool is not None
        async with self._spool_lock:
            await trio.to_thread.run_sync(self._spool.append, body, count)
        self.stats.spooled(count)
        self._spooled_since_wake.set()

    # -- replaying -----------------------------------------------------------------------

    async def maintain(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the requests in flight, and replay the spool, oldest first, whenever it
        holds anything."""
        async with trio.open_nursery() as tasks:
            self._tasks = tasks
            task_status.started()
            await self._replay()

    async def _replay(self) -> None:
        spool = self._spool
        if spool is None:
            await trio.sleep_forever()
            return
        while True:
            async with self._spool_lock:
                damaged = spool.counters.damaged_stretches
                record = await trio.to_thread.run_sync(spool.peek)
                self._count_spool_losses(damaged)
            if record is None:
                self._spooled_since_wake = trio.Event()
                await self._spooled_since_wake.wait()
                continue
            try:
                await trio.to_thread.run_sync(self._deliver, record.payload)
            except Unavailable as exc:
                self._went_away(exc)
                await trio.sleep(self._backoff.next_delay())
                continue
            async with self._spool_lock:
                await trio.to_thread.run_sync(spool.commit, record)
            self.stats.replayed(record.count)
            self._came_back()

    def _count_spool_losses(self, damaged_before: int) -> None:
        assert self._spool is not None
        counters = self._spool.counters
        if counters.damaged_stretches > damaged_before:
            self.stats.spool_damaged(counters.damaged_stretches - damaged_before)
            log.warning("spool damage skipped", extra={"sink": self.name, "stretches": counters.damaged_stretches})
        if counters.dropped_events > self._reported_drops:
            self.stats.dropped_spool_cap(counters.dropped_events - self._reported_drops)
            self._reported_drops = counters.dropped_events

    _reported_drops = 0

    def salvage(self, batch: Batch) -> bool:
        if self._spool is None:
            return False
        for body, count in self.encode(batch):
            self._spool.append(body, count)
            self.stats.spooled(count)
        return True

    async def close(self) -> None:
        if hasattr(self, "_writer"):
            self._writer.close()
        if getattr(self, "_spool", None) is not None:
            await trio.to_thread.run_sync(self._spool.close)  # type: ignore[union-attr]
