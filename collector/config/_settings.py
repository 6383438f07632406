"""What numbatd's configuration holds: one frozen dataclass per table, checked as it is built.

Every bound the daemon keeps is named here, with a default that needs no other server.
A sink's own keys are its type's :class:`SinkOptions` subclass, which this package never
names: the loader is handed the sink types (_load.py), so the configuration imports no sink.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from ..wire import Format
from ._addresses import ListenAddress, parse_listen_url
from ._aggregations import RAW, AggregationConfig
from ._checks import build, check_host_port, require, require_at_most

DEFAULT_PORT = 3333
DEFAULT_SELF_METRICS = "127.0.0.1:3336"
MIN_HEADER_BYTES = 1_024

Overflow = Literal["drop_oldest", "block"]


@dataclass(frozen=True)
class Limits:
    """Bounds on what one sender can make the daemon hold."""

    max_line_bytes: int = 65_536  #: longer lines are refused and counted, on every listener kind
    max_connections: int = 1_024  #: per stream or HTTP listener; more are closed at once, counted
    idle_timeout: float = 300.0  #: seconds a connection may make no progress (HTTP: between requests)
    read_timeout: float = 30.0  #: seconds an HTTP request, head and body, may take to arrive
    max_header_bytes: int = 16_384  #: an HTTP request head past this gets 431
    max_body_bytes: int = 16 * 2**20  #: per HTTP request; larger ones get 413
    udp_receive_buffer: int = 32 * 2**20  #: kernel buffer asked for UDP and unixgram listeners: absorbs bursts
    udp_drain_batch: int = 1_024  #: datagrams read per wake-up before yielding to other tasks
    #: File descriptors kept free for everything that is not an accepted connection (sinks'
    #: files, spools, outgoing connections, the self-metrics endpoint): connections past
    #: RLIMIT_NOFILE minus this are closed at once, counted. Process-wide: read from [limits].
    fd_reserve: int = 256

    def __post_init__(self) -> None:
        for key in (
            "max_line_bytes",
            "max_connections",
            "max_header_bytes",
            "max_body_bytes",
            "udp_receive_buffer",
            "udp_drain_batch",
            "fd_reserve",
        ):
            require(getattr(self, key) > 0, key, "must be positive")
        for key in ("idle_timeout", "read_timeout"):
            require(getattr(self, key) > 0, key, "must be a positive number of seconds")
        require(
            self.max_header_bytes >= MIN_HEADER_BYTES,
            "max_header_bytes",
            f"must be at least {MIN_HEADER_BYTES}: InfluxDB clients' request heads alone take a few hundred bytes",
        )
        require_at_most(self.udp_receive_buffer, 2**31 - 1, "udp_receive_buffer")  # the kernel takes an int


@dataclass(frozen=True)
class ListenerConfig:
    url: str
    format: Format = "numbat"
    name: str = ""  #: defaults to the URL; the label of this listener's self-metrics
    #: Unit of line-protocol timestamps on this socket (HTTP writes say theirs per request).
    precision: Literal["ns", "us", "ms", "s"] = "ns"
    #: statsd: while aggregations alone take the events, the usual lines are read by the
    #: compiled scan (collector/aggregate/_statsd_scan.py); false sends every line through the decoder.
    statsd_scan: bool = True
    limits: dict[str, Any] = field(default_factory=dict)  # overrides of the global [limits]

    def __post_init__(self) -> None:
        parse_listen_url(self.url)  # raises ValueError naming the url
        object.__setattr__(self, "name", self.name or self.url)

    @property
    def address(self) -> ListenAddress:
        return parse_listen_url(self.url)


@dataclass(frozen=True)
class SinkOptions:
    """A sink type's own keys, beside the common ones of :class:`SinkConfig`: each sink
    type subclasses this (a frozen dataclass, checked key by key like every table)."""


@dataclass(frozen=True, kw_only=True)
class SinkConfig:
    type: str
    options: SinkOptions  #: the sink type's own settings, of its options class
    name: str = ""  #: defaults to the type; the label of this sink's self-metrics
    include: tuple[str, ...] = ()  #: name prefixes this sink accepts (all when empty)
    exclude: tuple[str, ...] = ()  #: name prefixes this sink never accepts
    queue_size: int = 100_000  #: events waiting for this sink
    overflow: Overflow = "drop_oldest"  #: what a full queue does with a new batch
    #: What the sink takes: "raw", the events as they arrived, or the name of an
    #: [[aggregations]] table, its summaries (Vector's ``inputs``, one per sink).
    input: str = RAW

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.name or self.type)
        require(self.queue_size > 0, "queue_size", "must be positive")
        require(bool(self.input), "input", f"must be {RAW!r} or the name of an aggregation")

    @property
    def raw(self) -> bool:
        """Whether the sink takes the events as they arrived (else an aggregation's summaries)."""
        return self.input == RAW

    def accepts(self, name: str) -> bool:
        if self.include and not name.startswith(self.include):
            return False
        return not (self.exclude and name.startswith(self.exclude))

    @property
    def filters(self) -> bool:
        return bool(self.include or self.exclude)


@dataclass(frozen=True)
class SelfMetricsConfig:
    listen: str = DEFAULT_SELF_METRICS  #: host:port of /metrics, /healthz and /readyz; "" turns it off

    def __post_init__(self) -> None:
        if self.listen:
            check_host_port(self.listen, "listen")


@dataclass(frozen=True)
class LogConfig:
    level: Literal["debug", "info", "warning", "error"] = "info"
    #: Messages per second per kind for what input can flood (rejected lines, refused connections).
    flood_rate: float = 5.0

    def __post_init__(self) -> None:
        require(self.flood_rate > 0, "flood_rate", "must be positive")


@dataclass(frozen=True)
class Config:
    listeners: tuple[ListenerConfig, ...]
    sinks: tuple[SinkConfig, ...]
    #: Named aggregations; a sink takes one by its ``input``.
    aggregations: tuple[AggregationConfig, ...] = ()
    limits: Limits = Limits()
    self_metrics: SelfMetricsConfig = SelfMetricsConfig()
    log: LogConfig = LogConfig()
    #: Seconds SIGTERM waits for the sinks to write what is queued.
    shutdown_timeout: float = 10.0
    #: Where sinks keep what must outlive the process: their spools, one folder per sink.
    state_dir: str = "numbatd-state"

    def __post_init__(self) -> None:
        require(self.shutdown_timeout > 0, "shutdown_timeout", "must be positive")
        require(bool(self.state_dir), "state_dir", "must name a folder")

    def limits_for(self, listener: ListenerConfig) -> Limits:
        return build(Limits, {**dataclasses.asdict(self.limits), **listener.limits}, f"listener {listener.name}.limits")
