"""numbatd's configuration: TOML in, checked frozen dataclasses out.

Every bound the daemon keeps is named here, with a default that needs no other server.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .addresses import ListenAddress, parse_listen_url
from .schema import ConfigError, build, check_host_port, require, require_at_most
from .sinks import SINK_OPTIONS

DEFAULT_PORT = 3333
DEFAULT_SELF_METRICS = "127.0.0.1:3336"
MIN_HEADER_BYTES = 1_024

Format = Literal["numbat", "statsd", "influx", "graphite"]
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
    limits: dict[str, Any] = field(default_factory=dict)  # overrides of the global [limits]

    def __post_init__(self) -> None:
        parse_listen_url(self.url)  # raises ValueError naming the url
        object.__setattr__(self, "name", self.name or self.url)

    @property
    def address(self) -> ListenAddress:
        return parse_listen_url(self.url)


@dataclass(frozen=True)
class SinkConfig:
    type: str
    name: str = ""  #: defaults to the type; the label of this sink's self-metrics
    include: tuple[str, ...] = ()  #: name prefixes this sink takes (all when empty)
    exclude: tuple[str, ...] = ()  #: name prefixes this sink never takes
    queue_size: int = 100_000  #: events waiting for this sink
    overflow: Overflow = "drop_oldest"  #: what a full queue does with a new batch
    options: Any = None  #: the sink type's own settings, checked by its options class

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.name or self.type)
        require(self.queue_size > 0, "queue_size", "must be positive")

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


#: What ``numbatd`` runs with no arguments: needs no other server.
DEFAULT_CONFIG = f"""
[[listeners]]
url = "udp://127.0.0.1:{DEFAULT_PORT}"
format = "numbat"

[[listeners]]
url = "tcp://127.0.0.1:{DEFAULT_PORT}"
format = "numbat"

[[sinks]]
type = "console"

[self_metrics]
listen = "{DEFAULT_SELF_METRICS}"
"""


def default_config() -> Config:
    return parse_config(tomllib.loads(DEFAULT_CONFIG))


def load_config(path: str | Path) -> Config:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.start}): TOML files are UTF-8") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return parse_config(table)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def parse_config(table: dict[str, Any]) -> Config:
    table = dict(table)
    listeners = table.pop("listeners", None)
    sinks = table.pop("sinks", None)
    if not isinstance(listeners, list) or not listeners:
        raise ConfigError("listeners: at least one [[listeners]] table is required")
    if not isinstance(sinks, list) or not sinks:
        raise ConfigError("sinks: at least one [[sinks]] table is required")
    parsed_listeners = tuple(build(ListenerConfig, item, f"listeners[{i}]") for i, item in enumerate(listeners))
    parsed_sinks = []
    for i, item in enumerate(sinks):
        where = f"sinks[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: must be a table")
        kind = item.get("type")
        if kind not in SINK_OPTIONS:
            raise ConfigError(
                f"{where}.type: must be one of {', '.join(map(repr, sorted(SINK_OPTIONS)))}; got {kind!r}"
            )
        common = {f.name for f in dataclasses.fields(SinkConfig)} - {"options"}
        options = build(SINK_OPTIONS[kind], {k: v for k, v in item.items() if k not in common}, where)
        sink = build(SinkConfig, {k: v for k, v in item.items() if k in common}, where)
        parsed_sinks.append(dataclasses.replace(sink, options=options))
    config = build(Config, {**table, "listeners": [], "sinks": []}, "config")
    config = dataclasses.replace(config, listeners=parsed_listeners, sinks=tuple(parsed_sinks))
    _check_unique("listeners", [listener.name for listener in config.listeners])
    _check_unique("sinks", [sink.name for sink in config.sinks])
    for index, listener in enumerate(config.listeners):
        if "fd_reserve" in listener.limits:
            raise ConfigError(f"listeners[{index}].limits.fd_reserve: process-wide; set it in [limits]")
        config.limits_for(listener)  # reports a bad per-listener override now, not at start
    return config


def _check_unique(where: str, names: list[str]) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"{where}: the name {name!r} is used twice; give each a distinct name")
        seen.add(name)
