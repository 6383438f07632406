"""Graphite: events to carbon over its plaintext or pickle protocol, with the disk spool.

Events become points (_encoding.py: raw events on numbat's mapping, _paths.py; an
aggregation's summaries on statsd's paths), batched by size and by time, and written on
one persistent TCP connection (or a new one per batch, for a name that resolves round
robin to several relays). Carbon acknowledges nothing, so what was written stays
unconfirmed (_window.py) until the connection has stayed healthy ``resend_window``
seconds past it and carbon's TCP has taken its bytes; when the connection breaks (a
watcher task sees carbon close or reset it, or a write fails) every unconfirmed body is
written again, first, on the next connection: a point written twice is stored once.
While carbon is away, batches go to the spool and are replayed in order, behind what
must be written again; new ones queue behind them. Events count as delivered when
confirmed.

A body carbon itself refuses (it drops the connection on reading it: a pickle message
past its ``PICKLE_RECEIVER_MAX_LENGTH``) would be written again forever, and everything
behind it would pile up in the spool. A break makes the bodies it caught suspects
(_suspects.py), written then a few at a time, one alone at last: after
``max_body_attempts`` breaks in a row with one body alone on the connection, that body is
split in two (its points halved, to find those carbon refuses) or, one point left,
dropped, counted (``skipped``, reason ``refused by carbon``) and logged; the points around
it land.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import trio

from ...aggregate import GraphiteNaming
from ...config import SinkConfig, SinkOptions, parse_listen_url, require, require_at_most
from ...observe import SinkStats, log
from ...wire import Batch
from ..remote import RemoteSink, SpoolOptions, Unavailable
from ._encoding import MAX_MESSAGE_BYTES, MIN_MESSAGE_BYTES, PointEncoder, Protocol, convert, encode, readable, split
from ._link import Connection
from ._paths import PathMaker, Template, clean_path
from ._suspects import Suspects
from ._window import Unconfirmed

#: carbon's line receiver drops the connection past 16,384 bytes a line: a path, a
#: value and a timestamp must fit.
MAX_PATH_BYTES = 16_000


@dataclass(frozen=True)
class GraphiteOptions(SinkOptions):
    url: str = "tcp://127.0.0.1:2003"
    protocol: Protocol = "plaintext"  #: or "pickle" (carbon's port 2004)
    #: "per_batch": a new connection for each batch (a name resolved again each time).
    connection: Literal["persistent", "per_batch"] = "persistent"
    prefix: str = ""  #: before every path written
    template: str = "{name}"  #: the path: literal text, {name} and {field} tokens
    tags: bool = True  #: the fields no template uses as Graphite 1.1 tags, path;key=value
    tag_fields: tuple[str, ...] = ()  #: if set, the only fields made tags
    write_heartbeats: bool = False
    #: statsd's Graphite naming of an aggregation's summaries (graphite.globalPrefix...)
    naming: GraphiteNaming = field(default_factory=GraphiteNaming)
    batch_size: int = 5_000  #: events per write
    flush_interval: float = 1.0  #: seconds a smaller batch waits to fill
    max_message_bytes: int = 1 << 20  #: a pickle message, at most carbon's PICKLE_RECEIVER_MAX_LENGTH
    max_message_points: int = 500  #: points in a pickle message (carbon-relay's MAX_DATAPOINTS_PER_MESSAGE)
    max_path_bytes: int = 1_024  #: longer paths are not written, counted
    max_paths: int = 100_000  #: distinct paths of raw events; new ones past it are not written, counted
    connect_timeout: float = 5.0
    send_timeout: float = (
        30.0  #: a write (or carbon's end of stream) making no progress this long breaks the connection
    )
    #: seconds a body written stays ready to be written again, should the connection break
    resend_window: float = 2.0
    resend_max_bytes: int = 64 << 20  #: past it the connection is ended and begun again, to confirm what it holds
    #: breaks in a row with one body alone on the connection before it is split (or, one point, dropped)
    max_body_attempts: int = 3
    retry_base: float = 0.1  #: first reconnect delay, seconds, doubling and jittered
    retry_cap: float = 30.0
    spool: SpoolOptions = field(default_factory=SpoolOptions)

    #: One connection, one write at a time.
    max_in_flight = 1

    def __post_init__(self) -> None:
        require(self.url.startswith("tcp://"), "url", f"{self.url!r}: must be tcp://host:port")
        parse_listen_url(self.url)
        require(clean_path(self.prefix) == self.prefix, "prefix", f"{self.prefix!r}: not a clean path")
        try:
            Template.parse(self.template)
        except ValueError as exc:
            raise ValueError(f"template: {exc}") from None
        for key in (
            "batch_size",
            "max_message_points",
            "max_path_bytes",
            "max_paths",
            "resend_max_bytes",
            "max_body_attempts",
        ):
            require(getattr(self, key) > 0, key, "must be positive")
        for key in ("flush_interval", "connect_timeout", "send_timeout", "retry_base"):
            require(getattr(self, key) > 0, key, "must be positive")
        require(self.resend_window >= 0, "resend_window", "must not be negative")
        require(self.retry_cap >= self.retry_base, "retry_cap", "must be at least retry_base")
        require_at_most(self.max_path_bytes, MAX_PATH_BYTES, "max_path_bytes")
        require(
            self.max_message_bytes >= MIN_MESSAGE_BYTES, "max_message_bytes", f"must be at least {MIN_MESSAGE_BYTES:,}"
        )
        require_at_most(self.max_message_bytes, MAX_MESSAGE_BYTES, "max_message_bytes")


def is_heartbeat(name: str) -> bool:
    return name == "heartbeat" or name.endswith(".heartbeat")


class GraphiteSink(RemoteSink[GraphiteOptions]):
    kind = "graphite"
    Options = GraphiteOptions
    store = "carbon"

    def __init__(self, config: SinkConfig, stats: SinkStats | None = None, state_dir: Path | None = None) -> None:
        super().__init__(config, stats, state_dir)
        options = self.options
        self.batch_events = options.batch_size
        self.linger = options.flush_interval
        address = parse_listen_url(options.url)
        self._host, self._port = address.host, address.port
        self._known_paths: set[int] = set()  # hashes of the raw paths written
        self._warned_max_paths = False
        self._encoder = PointEncoder(
            PathMaker(
                prefix=options.prefix,
                template=Template.parse(options.template),
                tags=options.tags,
                tag_fields=options.tag_fields,
                max_path_bytes=options.max_path_bytes,
                admit=self._admit,
            ),
            naming=None if config.raw else options.naming,
            skip=None if options.write_heartbeats else is_heartbeat,
        )
        self._per_batch = options.connection == "per_batch"
        self._connection: Connection | None = None
        #: bodies a break caught, until confirmed: written a few at a time, then alone
        self._suspects = Suspects(options.max_body_attempts)
        self._window = Unconfirmed(options.resend_window, self._suspects.forget)
        #: bodies written on a connection that broke before they were confirmed: written
        #: again, first, on the next one
        self._resend: deque[tuple[bytes, int]] = deque()
        self._sending: tuple[bytes, int] | None = None  # the body being written, until its write returned
        #: transmit()'s own body, given up while it was being written, and what replaces it
        self._replaced: tuple[bytes, list[tuple[bytes, int]]] | None = None
        self._probe_tick = max(0.01, min(0.1, options.resend_window / 8))
        self._writing = trio.Lock()  # one write at a time: requests and the spool's replay
        self._background: trio.Nursery | None = None

    # -- encoding ------------------------------------------------------------------------

    def encode(self, batch: Batch) -> list[tuple[bytes, int]]:
        points, written, left_out = self._encoder.encode(batch.events)
        for reason, count in left_out.items():
            self.stats.skipped(reason, count)
        if not points:
            return []
        options = self.options
        return [(encode(points, options.protocol, options.max_message_bytes, options.max_message_points), written)]

    def _admit(self, path: str) -> str | None:
        """The bound on distinct paths (whisper files): a new path past it is refused."""
        key = hash(path)
        if key in self._known_paths:
            return None
        if len(self._known_paths) >= self.options.max_paths:
            if not self._warned_max_paths:
                self._warned_max_paths = True
                log.warning(
                    "max_paths reached: points of new paths dropped", extra={"sink": self.name, "path": path[:200]}
                )
            return "max_paths"
        self._known_paths.add(key)
        return None

    # -- life ----------------------------------------------------------------------------

    async def maintain(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """RemoteSink's work (requests, replay), the connections' watchers, and the
        confirmation of what carbon has had long enough."""
        async with trio.open_nursery() as background:
            self._background = background
            background.start_soon(self._confirm_periodically)
            await background.start(super().maintain)
            task_status.started()

    async def _confirm_periodically(self) -> None:
        tick = max(0.05, min(1.0, self.options.resend_window / 4))
        while True:
            await trio.sleep(tick)
            self._confirm()

    async def flush(self) -> None:
        """At a stop: end the connection and wait for carbon to end it in turn, which it
        does once it has read everything: then all that was written is confirmed."""
        await super().flush()
        async with self._writing:
            connection = self._connection
            if connection is not None:
                if await connection.finish(self.options.send_timeout):
                    self._delivered(self._window.confirm_all())
                    self._drop(connection)
                else:
                    self._broke(connection, connection.ending or "no end of stream from carbon")
            elif self._per_batch:
                self._delivered(self._window.confirm_all())  # each batch's end of stream came

    def salvage(self, batch: Batch) -> bool:
        self._keep_unconfirmed()  # older than the batch
        return super().salvage(batch)

    async def close(self) -> None:
        if self._connection is not None:
            self._drop(self._connection)
        self._keep_unconfirmed()
        await super().close()

    def _keep_unconfirmed(self) -> None:
        """At a stop: what carbon may not have read goes to the spool, to be written again
        by the next run (or is counted lost without a spool)."""
        kept = [*self._window.take(), *self._resend]
        self._resend.clear()
        for body, count in kept:
            if self._spool is not None:
                self._spool.append(body, count)
                self.stats.spooled(count)
            else:
                self.stats.dropped_stopped(count)

    def pending(self) -> dict[str, int]:
        return {**super().pending(), "unconfirmed": self._window.events + sum(count for _, count in self._resend)}

    # -- writing -------------------------------------------------------------------------

    async def deliver(self, body: bytes) -> None:
        """Write one body (its events not counted: :meth:`transmit` counts them)."""
        await self.transmit(body, 0)

    async def transmit(self, body: bytes, count: int) -> None:
        """Write what waits to be written again, then ``body`` (in this sink's protocol,
        whatever the spool held it in); its events count as delivered once confirmed.
        Raises Unavailable, leaving ``body`` to the caller, when the connection fails."""
        options = self.options
        body = convert(body, options.protocol, options.max_message_bytes, options.max_message_points)
        async with self._writing:
            connection = None
            try:
                connection = await self._connected()
                while self._resend:
                    await self._write(connection, *self._resend[0])
                    self._resend.popleft()
                await self._write(connection, body, count)
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError) as exc:
                if connection is not None:
                    self._broke(connection, self._describe(exc))
                replaced, self._replaced = self._replaced, None
                if replaced is not None and replaced[0] is body:  # given up: its halves, if any, go instead
                    self._resend.extend(replaced[1])
                    await self._park()
                    return
                await self._park()  # before the caller spools body: the older first
                raise Unavailable(self._describe(exc)) from None
            if self._per_batch or self._window.bytes > self.options.resend_max_bytes:
                await self._end(connection)
            self._confirm()

    async def _connected(self) -> Connection:
        if self._connection is None:
            connection = await Connection.open(self._host, self._port, self.options.connect_timeout)
            self._sending = None  # a write a stop cut short
            self._connection = connection
            assert self._background is not None, "maintain() runs beside the writes"
            self._background.start_soon(self._watch, connection)
        return self._connection

    async def _write(self, connection: Connection, body: bytes, count: int) -> None:
        await self._make_room(connection, body)
        started = trio.current_time()
        self._sending = (body, count)
        await connection.send(body, self.options.send_timeout)
        if connection is not self._connection:  # the watcher saw it break meanwhile (and took it as caught)
            raise trio.BrokenResourceError("the connection broke")
        self._sending = None
        self.stats.request_seconds.observe(trio.current_time() - started)
        # on a connection of its own a body is known read at the end of its batch: no need to count its bytes
        self._window.written(body, count, trio.current_time(), 0 if self._per_batch else connection.sent)

    async def _make_room(self, connection: Connection, body: bytes) -> None:
        """While suspects are about, wait for what is written to be confirmed until
        ``body`` may go (_suspects.py). Raises trio.BrokenResourceError if the connection
        breaks meanwhile."""
        while self._suspects.must_wait(body, self._window.bodies()):
            await trio.sleep(self._probe_tick)
            if connection is not self._connection:
                raise trio.BrokenResourceError("the connection broke")
            self._confirm()

    async def _end(self, connection: Connection) -> None:
        """End the connection and wait for carbon's end of stream: then everything written
        on it was read (a new one opens for the next write)."""
        if await connection.finish(self.options.send_timeout):
            self._drop(connection)
            if not self._per_batch:
                self._delivered(self._window.confirm_all())
        else:
            self._broke(connection, connection.ending or "no end of stream from carbon")
            await self._park()

    async def _watch(self, connection: Connection) -> None:
        """Carbon ended the connection while nobody was ending it (it stopped, or a relay
        went away): what it may not have read goes to be written again."""
        await connection.watch()
        if connection is self._connection and not connection.finishing:
            self._broke(connection, connection.ending)
            async with self._writing:
                await self._park()

    def _broke(self, connection: Connection, reason: str) -> None:
        """The connection is over before carbon showed it read what it holds: every body
        not confirmed is to be written again, before anything newer."""
        sending, self._sending = self._sending, None
        if connection is not self._connection:
            return  # seen already
        self._drop(connection)
        again = self._window.take()
        caught = [body for body, _ in again] + ([sending[0]] if sending is not None else [])
        given_up = self._suspects.broke(caught)
        if given_up is not None:
            again = self._give_up(given_up, again, sending)
        self._resend.extendleft(reversed(again))
        if again:
            log.warning(
                "carbon connection lost; what it may not have read is written again",
                extra={"sink": self.name, "error": reason, "events": sum(count for _, count in again)},
            )

    def _give_up(
        self, body: bytes, again: list[tuple[bytes, int]], sending: tuple[bytes, int] | None
    ) -> list[tuple[bytes, int]]:
        """Carbon dropped the connection each time ``body`` was alone on it: it goes,
        split in two or dropped, wherever it waits (``again``, the resend queue's head
        or transmit's own body)."""
        for index, (one, count) in enumerate(again):
            if one is body:
                return [*again[:index], *self._split_or_drop(one, count), *again[index + 1 :]]
        assert sending is not None, "a body given up was caught by the break"
        assert sending[0] is body
        replacement = self._split_or_drop(*sending)
        if self._resend and self._resend[0][0] is body:
            self._resend.popleft()
            self._resend.extendleft(reversed(replacement))
        else:
            self._replaced = (body, replacement)
        return again

    def _split_or_drop(self, body: bytes, count: int) -> list[tuple[bytes, int]]:
        """``body``'s two halves, its events shared by their points; or nothing, counted
        and logged, when it holds one point."""
        options = self.options
        halves = split(body, options.max_message_bytes, options.max_message_points)
        why = f"carbon ended the connection each of the {options.max_body_attempts} times it was written alone"
        if halves:
            (first, first_points), (second, second_points) = halves
            first_count = count * first_points // (first_points + second_points)
            log.warning(
                "a body carbon refuses is split in two, to find the points it refuses",
                extra={"sink": self.name, "why": why, "points": first_points + second_points, "events": count},
            )
            self._suspects.add(first)
            self._suspects.add(second)
            return [(first, first_count), (second, count - first_count)]
        self.stats.skipped("refused by carbon", count)
        log.warning(
            "a point carbon refuses is dropped",
            extra={"sink": self.name, "why": why, "path": self._path_of(body), "bytes": len(body), "events": count},
        )
        return []

    @staticmethod
    def _path_of(body: bytes) -> str:
        points = readable(body)
        return "(not a body of points)" if points is None else ",".join(path for path, _ in points)[:200]

    async def _park(self) -> None:
        """What is to be written again goes to the spool, in order, whose replay writes
        it (backing off while carbon is away); without a spool it waits here for the next
        write."""
        while self._spool is not None and self._resend:
            await self._to_spool(*self._resend[0])
            self._resend.popleft()

    def _confirm(self) -> None:
        connection = self._connection
        acknowledged = connection.acknowledged() if connection is not None and not self._per_batch else 0
        self._delivered(self._window.confirm(trio.current_time(), acknowledged))

    def _delivered(self, count: int) -> None:
        if count:
            self.stats.delivered(count)

    def _drop(self, connection: Connection) -> None:
        if connection is self._connection:
            self._connection = None
        connection.close()

    def _describe(self, exc: BaseException) -> str:
        """What went wrong, in an operator's words."""
        if isinstance(exc, trio.TooSlowError):
            return f"{self.options.url}: no progress within the connect or send timeout"
        if isinstance(exc, OSError):
            return f"{self.options.url}: {exc.strerror or exc}"
        return f"{self.options.url}: the connection broke"
