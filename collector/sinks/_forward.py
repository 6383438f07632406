"""Events as newline-delimited JSON over TCP (or a unix socket) to another collector or
an analyzer, reconnecting with backoff; while the peer is away, batches wait in the
spool and are replayed in order once it is back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import trio

from ..config import SinkConfig, SinkOptions, parse_listen_url, require
from ..observe import SinkStats
from ..wire import Batch
from .remote import RemoteSink, SpoolOptions, Unavailable


@dataclass(frozen=True)
class ForwardOptions(SinkOptions):
    url: str  #: tcp://host:port or unix:///path
    connect_timeout: float = 5.0
    send_timeout: float = 30.0  #: a write that makes no progress this long breaks the connection
    retry_base: float = 0.1
    retry_cap: float = 30.0
    spool: SpoolOptions = field(default_factory=SpoolOptions)

    #: One connection, one request at a time: the peer sees the events in order.
    max_in_flight = 1

    def __post_init__(self) -> None:
        require(self.url.startswith(("tcp://", "unix://")), "url", f"{self.url!r}: must be tcp:// or unix://")
        parse_listen_url(self.url)
        require(self.connect_timeout > 0, "connect_timeout", "must be positive")
        require(self.send_timeout > 0, "send_timeout", "must be positive")
        require(0 < self.retry_base <= self.retry_cap, "retry_base", "must be positive and at most retry_cap")


class ForwardSink(RemoteSink[ForwardOptions]):
    """At least once: a batch cut by a broken connection is sent again whole, so the peer
    may see a few events twice around a reconnect, never a torn line. The connection is
    made by the first delivery, and again by the first after it broke."""

    kind = "forward"
    Options = ForwardOptions
    takes_lines = True  #: it writes batch.json_lines()
    store = "the forward peer"

    def __init__(self, config: SinkConfig, stats: SinkStats | None = None, state_dir: Path | None = None) -> None:
        super().__init__(config, stats, state_dir)
        self._address = parse_listen_url(self.options.url)
        self._stream: trio.abc.Stream | None = None

    def encode(self, batch: Batch) -> list[tuple[bytes, int]]:
        return [(batch.json_lines(), len(batch))]

    async def deliver(self, body: bytes) -> None:
        try:
            if self._stream is None:
                with trio.fail_after(self.options.connect_timeout):
                    self._stream = await self._connect()
            with trio.fail_after(self.options.send_timeout):
                await self._stream.send_all(body)
        except (OSError, trio.BrokenResourceError, trio.TooSlowError) as exc:
            await self._drop_connection()
            raise Unavailable(self._describe(exc)) from None

    def _describe(self, exc: BaseException) -> str:
        """What went wrong, in an operator's words."""
        if isinstance(exc, trio.TooSlowError):
            return f"{self.options.url}: no progress within the connect or send timeout"
        if isinstance(exc, OSError):
            return f"{self.options.url}: {exc.strerror or exc}"
        return f"{self.options.url}: the connection broke"

    async def _connect(self) -> trio.abc.Stream:
        if self._address.scheme == "unix":
            return await trio.open_unix_socket(self._address.path)
        return await trio.open_tcp_stream(self._address.host, self._address.port)

    async def _drop_connection(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            with trio.move_on_after(1):
                await stream.aclose()

    async def close(self) -> None:
        await super().close()
        await self._drop_connection()
