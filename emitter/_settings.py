"""The emitter's tunables, every bound named and checked once, at construction."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ._wire import MAX_DATAGRAM_SIZE


@dataclass(frozen=True, slots=True)
class EmitterSettings:
    #: Events held while the collector is unreachable; past it the oldest are dropped (counted).
    max_backlog: int = 10_000
    #: Largest UDP/statsd datagram we pack. None: 1432 bytes, which fit a 1500-byte MTU,
    #: or 8192 to a loopback address (a collector on the same machine).
    datagram_size: int | None = None
    #: Pack several events into each datagram. Turn off for the Node numbat-collector,
    #: which parses every datagram as exactly one JSON document.
    pack_datagrams: bool = True
    #: Events taken from the backlog per write (TCP/unix chunk, datagram burst, HTTP POST).
    batch_size: int = 1_000
    #: Seconds the sender, woken by an event, waits for more before it sends: the events
    #: of a busy moment then cost one wake-up and one encoding pass, not one each.
    linger: float = 0.005
    connect_timeout: float = 2.0
    #: A write that makes no progress for this long counts as a broken connection.
    send_timeout: float = 5.0
    #: First reconnect delay and its cap, in seconds; each delay is jittered.
    backoff_base: float = 0.05
    backoff_cap: float = 30.0
    #: How long interpreter exit (or garbage collection) waits to flush what is queued.
    exit_timeout: float = 2.0
    #: Distinct metric names whose qualified form is cached.
    name_cache_size: int = 10_000

    def __post_init__(self) -> None:
        for name in ("max_backlog", "batch_size", "name_cache_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.datagram_size is not None and not (
            isinstance(self.datagram_size, int) and 64 <= self.datagram_size <= MAX_DATAGRAM_SIZE
        ):
            raise ValueError(f"datagram_size must be between 64 and {MAX_DATAGRAM_SIZE}, got {self.datagram_size!r}")
        if not isinstance(self.linger, (int, float)) or isinstance(self.linger, bool) or not 0 <= self.linger <= 1:
            raise ValueError(f"linger must be between 0 and 1 second, got {self.linger!r}")
        for name in ("connect_timeout", "send_timeout", "backoff_base", "backoff_cap", "exit_timeout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if self.backoff_cap < self.backoff_base:
            raise ValueError("backoff_cap must not be smaller than backoff_base")

    @classmethod
    def names(cls) -> frozenset[str]:
        return frozenset(f.name for f in fields(cls))
