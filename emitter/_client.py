"""The Emitter: what a service holds to send metrics to a numbat collector."""

from __future__ import annotations

import os
import socket
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from time import monotonic, sleep, time
from typing import Any

from ._encoder import EventEncoder, LineEncoder
from ._sender import Sender
from ._settings import EmitterSettings
from ._timer import Timer
from ._transports import DatagramTransport, HttpTransport, StreamTransport, Transport
from ._uri import Destination, parse_uri
from ._wire import encode_statsd
from .backoff import Backoff
from .event import EventBuilder, Scalar


@dataclass(frozen=True, slots=True)
class EmitterStats:
    """A snapshot of what the emitter did with the events it was given."""

    queued: int  #: in the backlog, waiting for the collector
    in_flight: int  #: taken from the backlog, not yet delivered
    sent: int  #: delivered to the transport (the kernel, for UDP; a 2xx, for HTTP)
    batches: int
    bytes_sent: int
    dropped: int  #: pushed out of a full backlog (oldest first), or given after close()
    invalid: int  #: no usable name
    unencodable: int  #: fields that JSON cannot carry
    oversize: int  #: alone larger than the largest datagram
    rejected: int  #: refused by an HTTP collector with a 4xx
    unsent_at_close: int  #: still queued when close() gave up waiting
    send_errors: int
    connects: int
    connect_failures: int
    internal_errors: int  #: bugs of ours the sender survived; please report them
    connected: bool
    last_error: str | None

    @property
    def lost(self) -> int:
        """Every event given to metric() that will never reach the collector."""
        return self.dropped + self.invalid + self.unencodable + self.oversize + self.rejected + self.unsent_at_close


class Emitter:
    """Sends numbat events to a collector from a background thread.

    ``metric()`` only builds the event and appends it to a bounded backlog: it never
    blocks on and never raises from the network. The backlog drops its oldest events
    when full, counted in :meth:`stats`.

    Tunables are the fields of :class:`EmitterSettings`, given as keyword arguments.
    """

    def __init__(
        self,
        uri: str,
        app: str,
        node: str | None = None,
        *,
        host: str | None = None,
        settings: EmitterSettings | None = None,
        **overrides: Any,
    ) -> None:
        self.destination: Destination = parse_uri(uri)
        unknown = set(overrides) - EmitterSettings.names()
        if unknown:
            raise TypeError(f"unknown emitter setting(s): {', '.join(sorted(unknown))}")
        self.settings = replace(settings or EmitterSettings(), **overrides)
        defaults: dict[str, Scalar] = {"host": host or socket.gethostname()}
        if node is not None:
            defaults["node"] = node
        is_statsd = self.destination.transport == "statsd"
        # numbat-emitter's statsd mode leaves `value` unset, so an event without one counts 1.
        self._builder = EventBuilder(
            app, defaults, default_value=None if is_statsd else 1, name_cache_size=self.settings.name_cache_size
        )
        self._encoder = (
            EventEncoder(self._builder, encode_statsd)
            if is_statsd
            else LineEncoder(self._builder, self.settings.name_cache_size)
        )
        self._max_backlog = self.settings.max_backlog
        # Past this many queued events the backlog is crowded: metric() cuts a lingering
        # sender's wait short, and drops the oldest when the backlog is full.
        self._crowded_at = max(1, self._max_backlog // 2)
        # metric() takes its slow path from this many queued events: crowded, or 0 once
        # closed (one test on the hot path for both).
        self._slow_path_at = self._crowded_at
        self._counts_lock = threading.Lock()
        self._dropped = 0
        self._closed = False
        self._start_sender()
        self._finalizer = weakref.finalize(self, _stop_sender, self._sender_box, self.settings.exit_timeout)
        _live_emitters.add(self)

    # -- the hot path ------------------------------------------------------------

    def metric(self, name: str | Mapping[str, Any], value: Scalar = None, /, **fields: Any) -> None:
        """Queue one event: ``metric("latency", 30, status="ok")`` or
        ``metric({"name": "latency", "value": 30})``.

        Only the arguments and the time are recorded here; the event is built, checked
        and encoded on the emitter's thread. One without a usable name is counted as
        ``invalid`` in :meth:`stats`, never raised.
        """
        if name.__class__ is not str and isinstance(name, Mapping):
            name = dict(name)  # the caller may change theirs once we return
        backlog = self._backlog
        if len(backlog) >= self._slow_path_at and self._slow_path():
            return
        # The garbage collector untracks a record at its first look only when it holds no
        # dict (nor a tuple it has yet to untrack): one that does stays tracked while it
        # waits in the backlog, looked at again by each older generation's collection.
        # So no fields are recorded as None, and one field (the common case) as its key
        # and value, which popitem() hands over at about the cost of keeping the dict.
        # (Popping first and putting it back when there were more saves ~8 ns for one
        # field and costs ~50 ns for two: not done.)
        if not fields:
            backlog.append((name, value, None, None, time()))
        elif len(fields) == 1:
            key, given = fields.popitem()
            backlog.append((name, value, key, given, time()))
        else:
            backlog.append((name, value, fields, None, time()))
        if self._sender.sleeping:
            # Lowered here, not only by the sender: until it next holds the GIL, every
            # call would set the event again (a lock and a notify each).
            self._sender.sleeping = False
            self._sender.wake.set()

    def _slow_path(self) -> bool:
        """True when closed (the event is dropped, counted); else the backlog is half full
        or more: hurry a lingering sender, and make room when full."""
        if self._closed:
            self._count_dropped()
            return True
        sender = self._sender
        if sender.lingering:
            sender.lingering = False
            sender.wake.set()
        if len(self._backlog) < self._max_backlog:
            return False
        with self._counts_lock:
            try:
                self._backlog.popleft()
            except IndexError:  # the sender emptied it meanwhile
                return False
            self._dropped += 1
        return False

    def _count_dropped(self) -> None:
        with self._counts_lock:
            self._dropped += 1

    # -- helpers -------------------------------------------------------------------

    @property
    def app(self) -> str:
        return self._builder.app

    @property
    def defaults(self) -> dict[str, Scalar]:
        """Fields every event carries unless it gives its own (host, node)."""
        return self._builder.defaults

    @property
    def closed(self) -> bool:
        return self._closed

    def timer(self, name: str, **fields: Any) -> Timer:
        """Context manager and decorator emitting the elapsed milliseconds as ``value``."""
        return Timer(self.metric, name, fields)

    def stats(self) -> EmitterStats:
        sender = self._sender
        counters = sender.counters
        return EmitterStats(
            queued=len(sender.backlog),
            in_flight=sender.in_flight,
            sent=counters.sent,
            batches=counters.batches,
            bytes_sent=counters.bytes_sent,
            dropped=self._dropped,
            invalid=counters.invalid,
            unencodable=counters.unencodable,
            oversize=counters.oversize,
            rejected=counters.rejected,
            unsent_at_close=counters.unsent_at_close,
            send_errors=counters.send_errors,
            connects=counters.connects,
            connect_failures=counters.connect_failures,
            internal_errors=counters.internal_errors,
            connected=sender.connected,
            last_error=counters.last_error,
        )

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is delivered; False if it was not in time."""
        deadline = monotonic() + timeout
        sender = self._sender
        while sender.backlog or sender.in_flight:
            if monotonic() >= deadline or not sender.alive:
                return False
            if sender.sleeping or sender.lingering:
                sender.wake.set()
            sleep(0.002)
        return True

    def close(self, timeout: float | None = None) -> bool:
        """Stop taking events, deliver what is queued within ``timeout`` seconds (the
        ``exit_timeout`` setting by default) and close the connection. Idempotent.
        Returns True when nothing was left undelivered."""
        if self._closed:
            return not (self._sender.backlog or self._sender.in_flight)
        self._closed = True
        self._slow_path_at = 0
        _forget_global(self)
        self._finalizer.detach()
        return _stop_sender(self._sender_box, self.settings.exit_timeout if timeout is None else timeout)

    destroy = close  # numbat-emitter's name for it

    def __enter__(self) -> Emitter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("connected" if self._sender.connected else "disconnected")
        return f"<Emitter {self.destination.uri} app={self.app!r} {state}>"

    # -- lifecycle -------------------------------------------------------------------

    def _start_sender(self) -> None:
        settings = self.settings
        self._sender = Sender(
            partial(_make_transport, self.destination, settings),
            self._encoder.encode,
            batch_size=settings.batch_size,
            linger=settings.linger,
            crowded_at=self._crowded_at,
            backoff=Backoff(settings.backoff_base, settings.backoff_cap),
            name=self.destination.uri,
        )
        self._backlog = self._sender.backlog
        if hasattr(self, "_sender_box"):
            self._sender_box[0] = self._sender
        else:
            self._sender_box: list[Sender] = [self._sender]

    def _after_fork_in_child(self) -> None:
        # The parent's queued events are the parent's to send; the child starts afresh
        # with its own connection, so the two never interleave lines on one socket.
        self._counts_lock = threading.Lock()
        self._dropped = 0
        if not self._closed:
            self._start_sender()


def _make_transport(destination: Destination, settings: EmitterSettings) -> Transport:
    if destination.transport in ("tcp", "unix"):
        return StreamTransport(destination, settings.connect_timeout, settings.send_timeout)
    if destination.transport == "http":
        return HttpTransport(destination, settings.connect_timeout, settings.send_timeout)
    return DatagramTransport(
        destination,
        settings.datagram_size if settings.pack_datagrams else 1,  # one line per datagram
        settings.send_timeout,
        trailing_newline=destination.transport != "statsd",
    )


def _stop_sender(box: list[Sender], timeout: float) -> bool:
    """Run by close(), by garbage collection of an unclosed emitter, and at interpreter exit."""
    return box[0].stop(timeout)


# -- process-wide state ------------------------------------------------------------

_live_emitters: weakref.WeakSet[Emitter] = weakref.WeakSet()
_global_emitter: Emitter | None = None


def set_global(emitter: Emitter | None) -> None:
    """Make ``emitter`` the one module-level :func:`metric` sends through (None unsets)."""
    global _global_emitter
    _global_emitter = emitter


def get_global() -> Emitter | None:
    return _global_emitter


def _forget_global(emitter: Emitter) -> None:
    global _global_emitter
    if _global_emitter is emitter:
        _global_emitter = None


def metric(name: str | Mapping[str, Any], value: Scalar = None, /, **fields: Any) -> None:
    """Send through the global emitter; a no-op when none is set."""
    emitter = _global_emitter
    if emitter is not None:
        emitter.metric(name, value, **fields)


def timer(name: str, **fields: Any) -> Timer:
    """Like :meth:`Emitter.timer`, through whichever global emitter is set when it fires."""
    return Timer(metric, name, fields)


def _reset_after_fork() -> None:
    for emitter in list(_live_emitters):
        emitter._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
