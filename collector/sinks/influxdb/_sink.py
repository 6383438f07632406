"""InfluxDB: numbat's main store, with a disk spool so an outage loses nothing.

Events become line protocol (_lineprotocol.py; _transcoder.py, compiled, for series
already written), batched by size and by time, and go to the v2 write API through
influxdb-client (_writers.py) or to the v1 ``/write`` of older servers (remote/_http_client.py).
A cardinality guard (_cardinality.py) keeps runaway names and tags from growing the
store. While InfluxDB is away, or a restart interrupts, batches go to the spool and are
replayed in order once it answers again; new events queue behind them. A batch InfluxDB
refuses (400) is split until the bad points are found: those are dropped and counted,
the good ones land.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ...config import SinkConfig, SinkOptions, require, require_at_most
from ...observe import SinkStats, log
from ...wire import Batch
from ..remote import RemoteSink, SpoolOptions
from ._cardinality import SeriesGuard, name_pattern
from ._lineprotocol import LineEncoder
from ._writers import BadPoints, V1Writer, V2Writer, Writer

if TYPE_CHECKING:
    from ._transcoder import JsonLineTranscoder


@dataclass(frozen=True)
class InfluxOptions(SinkOptions):
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
    #: requests at once: InfluxDB always has the next batch while the event loop, busy
    #: decoding and encoding, gets round to the answer of the last
    max_in_flight: int = 4
    flush_interval: float = 1.0  #: seconds a smaller batch waits to fill
    timeout: float = 10.0
    retry_base: float = 0.5  #: first retry delay, seconds, doubling and jittered
    retry_cap: float = 30.0
    fields: tuple[str, ...] = ()  #: event keys written as fields beside value
    tags: tuple[str, ...] = ()  #: if set, the only keys written as tags
    integers_as_floats: bool = True
    write_heartbeats: bool = False
    max_measurements: int = 10_000  #: distinct event names written; new ones past it are dropped
    max_series_per_measurement: int = 10_000
    max_series: int = 1_000_000
    spool: SpoolOptions = field(default_factory=SpoolOptions)

    def __post_init__(self) -> None:
        require(self.url.startswith(("http://", "https://")), "url", f"{self.url!r} is not an http(s) URL")
        if self.api == "v2":
            require(bool(self.bucket), "bucket", "required with api = 'v2'")
        else:
            require(bool(self.database), "database", "required with api = 'v1'")
        for key in ("batch_size", "max_in_flight", "max_measurements", "max_series_per_measurement", "max_series"):
            require(getattr(self, key) > 0, key, "must be positive")
        for key in ("flush_interval", "timeout", "retry_base"):
            require(getattr(self, key) > 0, key, "must be positive")
        require(self.retry_cap >= self.retry_base, "retry_cap", "must be at least retry_base")
        require_at_most(self.max_in_flight, 64, "max_in_flight")


#: Name patterns the cardinality warnings name, each once; past it, one line says more were refused.
WARNED_PATTERNS = 1_000


def is_heartbeat(name: str) -> bool:
    return name == "heartbeat" or name.endswith(".heartbeat")


class InfluxSink(RemoteSink[InfluxOptions]):
    kind = "influxdb"
    Options = InfluxOptions
    store = "InfluxDB"

    def __init__(self, config: SinkConfig, stats: SinkStats | None = None, state_dir: Path | None = None) -> None:
        super().__init__(config, stats, state_dir)
        options = self.options
        self.batch_events = options.batch_size
        self.linger = options.flush_interval
        self._guard = SeriesGuard(options.max_series_per_measurement, options.max_series, options.max_measurements)
        self._warned: set[tuple[str, str]] = set()  # (reason, name pattern) already logged
        self._encoder = LineEncoder(
            options.fields,
            options.tags,
            options.integers_as_floats,
            skip=None if options.write_heartbeats else is_heartbeat,
            admit=self._admit,
            summaries=not config.raw,  # an aggregation's summaries: a field per statistic
        )
        # Imported here, by the first InfluxDB sink made: numba's compiled code costs a
        # daemon without one nothing, and numbatd chooses numba's cache folder before this
        # (jit.use_compiled_cache), once its configuration is read.
        from ._transcoder import JsonLineTranscoder, Lines  # noqa: PLC0415 - numba, loaded only when used

        self._lines_of = Lines.of
        self._transcoder: JsonLineTranscoder | None = JsonLineTranscoder(self._encoder) if self._encoder.plain else None
        #: Lines of known series are written from the lines, without their events (_transcoder.py).
        self.takes_lines = self.takes_scans = self._transcoder is not None
        #: Opens its connections when it first writes; close() closes them.
        self._writer = self._make_writer(options)

    async def close(self) -> None:
        await super().close()
        await self._writer.aclose()

    def _make_writer(self, options: InfluxOptions) -> Writer:
        writer = (
            partial(V2Writer, token=options.token, org=options.org, bucket=options.bucket)
            if options.api == "v2"
            else partial(
                V1Writer,
                database=options.database,
                retention_policy=options.retention_policy,
                username=options.username,
                password=options.password,
                max_connections=options.max_in_flight,
            )
        )
        return writer(url=options.url, timeout=options.timeout, observe=self.stats.request_seconds.observe)

    def encode(self, batch: Batch) -> list[tuple[bytes, int]]:
        """Bodies of at most ``batch_size`` lines for the events worth writing."""
        if self._transcoder is not None:
            lines, left_out = self._transcoder.encode_batch(batch)
        else:
            encoded, left_out = self._encoder.encode_all(batch.events)
            lines = self._lines_of(encoded)
        for reason, count in left_out.items():
            if count:
                self.stats.skipped("heartbeat" if reason == "skipped" else reason, count)
        return lines.chunks(self.options.batch_size)

    def _admit(self, measurement: str, series: str) -> str | None:
        refused = self._guard.admit(measurement, series)
        if refused is not None:
            self._warn_once(refused, measurement)
        return refused

    def _warn_once(self, reason: str, measurement: str) -> None:
        """One log line per (reason, name pattern), at most WARNED_PATTERNS of them."""
        key = (reason, name_pattern(measurement))
        if key in self._warned or len(self._warned) > WARNED_PATTERNS:
            return
        self._warned.add(key)
        if len(self._warned) > WARNED_PATTERNS:
            log.warning("cardinality limits: more name patterns refused; not logged", extra={"sink": self.name})
            return
        log.warning(
            "cardinality limit reached: new points dropped",
            extra={
                "sink": self.name,
                "limit": reason,
                "pattern": key[1],
                "example": measurement[:200],
                "measurements": self._guard.measurement_count,
                "series": self._guard.series,
            },
        )

    async def deliver(self, body: bytes) -> None:
        """Write ``body``; split what InfluxDB refuses until only the bad points are left
        out. Unavailable (the store is away) goes up."""
        try:
            await self._writer.write(body)
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
            await self.deliver(b"\n".join(lines[:middle]))
            await self.deliver(b"\n".join(lines[middle:]))
