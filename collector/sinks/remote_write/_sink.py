"""Prometheus remote write 1.0: events (or an aggregation's summaries) as WriteRequests,
snappy-compressed, POSTed to a receiver (Prometheus with its remote-write receiver,
Mimir, Thanos, VictoriaMetrics...), with the disk spool while it is away.

Events become series and samples (_mapping.py), checked against Prometheus's rules
(_names.py), grouped, sorted and cut into requests (_requests.py), encoded by hand
(_protobuf.py) and compressed in snappy's block format. Events that came as numbat JSON
lines of known series go from their lines to samples without their dicts
(_transcoder.py, compiled), to the same requests. One request is in flight at a
time: a series' samples must reach the receiver in time order, and a sink that sent
two requests at once could see the later land first. The encoding of the next batch
overlaps the request in flight.

Answers (_answers.py): a 5xx or a 429 is retried with backoff (waiting at least what a
Retry-After asks, up to ``max_retry_after``), the body waiting in the spool; any other 4xx is not retried. A 400
or 413 is taken apart: the request's series are sent in halves, left before right
(each series' order kept), until the series the receiver refuses are alone; those are
dropped and counted (``refused by the store``) while the rest land. Prometheus answers
400 for a sample older than the series' newest or outside its head's time range, and
refuses the whole request for it; the sink's own memory of each series' last sample
keeps the first kind from being sent at all.
"""

from __future__ import annotations

import importlib.metadata
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

import cramjam

from ...config import SinkConfig, SinkOptions, require, require_at_most
from ...observe import FloodGate, SinkStats
from ...wire import Batch
from ..remote import HttpClient, RemoteSink, RequestFailed, SpoolOptions, Unavailable
from ._answers import Refused, check_answer
from ._mapping import Naming
from ._names import LABEL_NAME
from ._protobuf import Malformed, describe_series, split_series
from ._requests import RequestEncoder

if TYPE_CHECKING:
    from ._transcoder import LineSamples

#: Headers the protocol sets; the configuration may not.
RESERVED_HEADERS = frozenset(
    {"content-encoding", "content-type", "content-length", "host", "user-agent", "x-prometheus-remote-write-version"}
)
PROTOCOL_VERSION = "0.1.0"  #: remote write 1.0 sends this version in its header


def user_agent() -> str:
    """numbatd and its version, as the spec asks a sender to say."""
    try:
        return f"numbatd/{importlib.metadata.version('numbat')}"
    except importlib.metadata.PackageNotFoundError:  # run from a source tree never installed
        return "numbatd"


REFUSED = "refused by the store"
#: Statuses whose request is taken apart to find what was refused (else dropped whole).
SPLIT_STATUSES = frozenset({400, 413, 422})


def is_heartbeat(name: str) -> bool:
    return name == "heartbeat" or name.endswith(".heartbeat")


@dataclass(frozen=True)
class RemoteWriteOptions(SinkOptions):
    url: str = "http://127.0.0.1:9090/api/v1/write"
    batch_size: int = 5_000  #: samples per request
    flush_interval: float = 1.0  #: seconds a smaller batch waits to fill
    timeout: float = 10.0
    retry_base: float = 0.5  #: first retry delay, seconds, doubling and jittered
    retry_cap: float = 30.0  #: longest backoff delay
    max_retry_after: float = 300.0  #: longest wait a Retry-After header may ask; longer ones are cut to it
    prefix: str = ""  #: before every metric name, e.g. "numbat_"
    labels: tuple[str, ...] = ()  #: if set, the only fields that become labels
    exclude_labels: tuple[str, ...] = ()  #: fields that never become labels
    static_labels: dict[str, str] = field(default_factory=dict)  #: on every series, under a field's label
    headers: dict[str, str] = field(default_factory=dict)  #: sent with every request (auth, tenant)
    write_heartbeats: bool = False
    max_series: int = 100_000  #: series whose last timestamp is remembered; past it all are forgotten
    spool: SpoolOptions = field(default_factory=SpoolOptions)

    #: One request at a time: each series' samples arrive in time order.
    max_in_flight: ClassVar[int] = 1

    def __post_init__(self) -> None:
        require(self.url.startswith(("http://", "https://")), "url", f"{self.url!r} is not an http(s) URL")
        for key in ("batch_size", "max_series"):
            require(getattr(self, key) > 0, key, "must be positive")
        for key in ("flush_interval", "timeout", "retry_base", "max_retry_after"):
            require(getattr(self, key) > 0, key, "must be positive")
        require(self.retry_cap >= self.retry_base, "retry_cap", "must be at least retry_base")
        require_at_most(self.batch_size, 1_000_000, "batch_size")
        require(
            not self.prefix or LABEL_NAME.fullmatch(self.prefix) is not None,
            "prefix",
            f"{self.prefix!r}: letters, digits and _ only, not starting with a digit",
        )
        for name, value in self.static_labels.items():
            require(
                LABEL_NAME.fullmatch(name) is not None and not name.startswith("__"),
                "static_labels",
                f"{name!r} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)",
            )
            require(isinstance(value, str) and bool(value), "static_labels", f"{name}: must be a non-empty string")
        for name, value in self.headers.items():
            require(name.lower() not in RESERVED_HEADERS, "headers", f"{name!r} is set by the protocol")
            require(isinstance(value, str), "headers", f"{name}: must be a string")


class RemoteWriteSink(RemoteSink[RemoteWriteOptions]):
    """Counts samples, not events: an event is one sample, a summary one per statistic."""

    kind = "prometheus_remote_write"
    Options = RemoteWriteOptions
    store = "remote-write receiver"

    def __init__(self, config: SinkConfig, stats: SinkStats | None = None, state_dir: Path | None = None) -> None:
        super().__init__(config, stats, state_dir)
        options = self.options
        self.batch_events = options.batch_size
        self.linger = options.flush_interval
        self._encoder = RequestEncoder(
            Naming(options.prefix, options.labels, options.exclude_labels, options.static_labels),
            batch_size=options.batch_size,
            max_series=options.max_series,
            summaries=not config.raw,
            skip=None if options.write_heartbeats else is_heartbeat,
        )
        self._flood = FloodGate(5.0)
        self._encoder.on_refused = self._log_refused_labels
        self._lines: LineSamples | None = None
        if config.raw:
            # Imported by the first such sink made, after numbatd chose numba's cache folder
            # (jit.use_compiled_cache): a daemon without one loads no numba for it.
            from ._transcoder import LineSamples  # noqa: PLC0415 - numba, loaded only when used

            self._lines = LineSamples(self._encoder, options.max_series)
        #: Events' lines of known series become samples without their events (_transcoder.py).
        self.takes_lines = self.takes_scans = self._lines is not None
        parts = urlsplit(options.url)
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = [
            ("Content-Encoding", "snappy"),
            ("Content-Type", "application/x-protobuf"),
            ("User-Agent", user_agent()),
            ("X-Prometheus-Remote-Write-Version", PROTOCOL_VERSION),
            *options.headers.items(),
        ]
        #: Opens its connection when it first writes; close() closes it.
        self._client = HttpClient(options.url, timeout=options.timeout, max_connections=1)

    async def close(self) -> None:
        await super().close()
        await self._client.aclose()

    def encode(self, batch: Batch) -> list[tuple[bytes, int]]:
        """Compressed WriteRequests of at most ``batch_size`` samples."""
        if self._lines is not None:
            requests, left_out = self._lines.encode(batch)
        else:
            requests, left_out = self._encoder.encode(batch.events)
        for reason, count in left_out.items():
            self.stats.skipped(reason, count)
        return [(compress(request), count) for request, count in requests]

    async def deliver(self, body: bytes) -> None:
        """POST ``body``; a refused one is taken apart so that only what the receiver
        refuses is lost. Unavailable (retry later) goes up."""
        try:
            await self._post(body)
        except Refused as exc:
            try:
                request = decompress(body)
            except cramjam.DecompressionError:  # not what this sink writes: nothing to take apart
                self.stats.skipped(REFUSED)
                self._log_refused(exc, [body])
                return
            refused = await self._isolate(request, exc)
            self._log_refused(exc, refused)

    async def _post(self, body: bytes) -> None:
        started = time.perf_counter()
        try:
            response = await self._client.post(self._target, body, self._headers)
        except RequestFailed as exc:
            raise Unavailable(str(exc)) from None
        finally:
            self.stats.request_seconds.observe(time.perf_counter() - started)
        check_answer(response.status, response.body, response.headers, self.options.max_retry_after)

    async def _isolate(self, request: bytes, refusal: Refused) -> list[bytes]:
        """Deliver what of ``request`` the receiver takes; the series it refuses (dropped
        and counted), in order."""
        try:
            series = split_series(request)
        except Malformed:  # not what this sink writes (a spool from another version?)
            self.stats.skipped(REFUSED)
            return [request]
        if refusal.status not in SPLIT_STATUSES or len(series) <= 1:
            self._count_refused(series)
            return series
        middle = len(series) // 2
        refused = []
        for half in (series[:middle], series[middle:]):
            joined = b"".join(half)
            try:
                await self._post(compress(joined))
            except Refused as exc:
                refused += await self._isolate(joined, exc)
        return refused

    def _count_refused(self, series: list[bytes]) -> None:
        samples = 0
        for one in series:
            try:
                samples += describe_series(one)[1]
            except Malformed:
                samples += 1
        self.stats.skipped(REFUSED, samples)

    def _log_refused(self, refusal: Refused, refused: list[bytes]) -> None:
        example = ""
        if refused:
            try:
                labels, _ = describe_series(refused[0])
                example = "{" + ", ".join(f'{name}="{value}"' for name, value in labels) + "}"
            except Malformed:
                example = "(not a series)"
        self._flood.warning(
            "refused",
            f"{self.store} refused series; dropped",
            sink=self.name,
            status=refusal.status,
            reason=refusal.message,
            series=len(refused),
            example=example[:300],
        )

    def _log_refused_labels(self, reason: str, example: str) -> None:
        self._flood.warning("labels", "series not written: " + reason, sink=self.name, example=example)


def compress(request: bytes) -> bytes:
    """Snappy's block format (remote write forbids the framed one)."""
    return bytes(cramjam.snappy.compress_raw(request))


def decompress(body: bytes) -> bytes:
    return bytes(cramjam.snappy.decompress_raw(body))
