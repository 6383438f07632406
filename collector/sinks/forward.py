"""Events as newline-delimited JSON over TCP (or a unix socket) to another collector or
an analyzer, reconnecting with backoff. While the peer is away, this sink's queue is
the bounded backlog (its overflow policy applies)."""

from __future__ import annotations

from dataclasses import dataclass

import trio

from emitter.backoff import Backoff

from ..addresses import parse_listen_url
from ..events import Batch
from ..logs import log
from ..schema import require
from .base import Sink


@dataclass(frozen=True)
class ForwardOptions:
    url: str  #: tcp://host:port or unix:///path
    connect_timeout: float = 5.0
    backoff_base: float = 0.1
    backoff_cap: float = 30.0

    def __post_init__(self) -> None:
        require(self.url.startswith(("tcp://", "unix://")), "url", f"{self.url!r}: must be tcp:// or unix://")
        parse_listen_url(self.url)
        require(self.connect_timeout > 0, "connect_timeout", "must be positive")
        require(0 < self.backoff_base <= self.backoff_cap, "backoff_base", "must be positive and at most backoff_cap")


class ForwardSink(Sink):
    """At least once: a batch cut by a broken connection is sent again whole, so the
    peer may see a few events twice around a reconnect, never a torn line."""

    kind = "forward"
    Options = ForwardOptions

    async def open(self) -> None:
        self._address = parse_listen_url(self.options.url)
        self._stream: trio.abc.Stream | None = None
        self._backoff = Backoff(self.options.backoff_base, self.options.backoff_cap)

    async def _connect(self) -> trio.abc.Stream:
        with trio.fail_after(self.options.connect_timeout):
            if self._address.scheme == "unix":
                return await trio.open_unix_socket(self._address.path)
            return await trio.open_tcp_stream(self._address.host, self._address.port)

    async def write(self, batch: Batch) -> None:
        data = batch.json_lines()
        while True:
            try:
                if self._stream is None:
                    self._stream = await self._connect()
                await self._stream.send_all(data)
            except (OSError, trio.BrokenResourceError, trio.TooSlowError) as exc:
                self.stats.retried()
                if self._backoff.attempt == 0:
                    log.warning("forward sink cannot send", extra={"sink": self.name, "error": repr(exc)})
                await self._drop_connection()
                await trio.sleep(self._backoff.next_delay())
                continue
            if self._backoff.attempt:
                log.info("forward sink reconnected", extra={"sink": self.name})
            self._backoff.reset()
            return

    async def _drop_connection(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            with trio.move_on_after(1):
                await stream.aclose()

    async def close(self) -> None:
        if hasattr(self, "_stream"):
            await self._drop_connection()
