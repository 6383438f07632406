"""The emitter's own thread: takes events from the backlog, encodes, sends, reconnects.

Only this thread touches the socket, so nothing the network does (a dead collector, a
full buffer, a slow DNS answer) can block or raise into the service's threads.

It works in bursts: woken by the first event after a quiet spell, it lingers a few
milliseconds (``linger``) so that the events of a busy moment go out together, in one
encoding pass and as few writes as they fit, instead of a wake, a GIL hand-over and a
send for each. A backlog half full (of ``max_backlog``) cuts the linger short, so the
wait never fills it; ``flush()`` and ``stop()`` cut it short too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from itertools import islice

from ._encoder import Record
from ._transports import Rejected, SendFailed, Transport
from .backoff import Backoff

log = logging.getLogger("numbat.emitter")

#: Records in, ``(data, lines, invalid, unencodable)`` out (``LineEncoder.encode``).
Encode = Callable[[list[Record]], tuple[bytes, int, int, int]]

#: How long an idle sender sleeps before it looks at the backlog again on its own.
IDLE_WAKEUP = 1.0


@dataclass
class SenderCounters:
    """Written by the sender thread only; read as a snapshot by ``Emitter.stats()``."""

    sent: int = 0
    batches: int = 0
    bytes_sent: int = 0
    send_errors: int = 0
    connects: int = 0
    connect_failures: int = 0
    invalid: int = 0
    unencodable: int = 0
    oversize: int = 0
    rejected: int = 0
    unsent_at_close: int = 0
    internal_errors: int = 0
    last_error: str | None = None


class Sender:
    """Drains ``backlog`` through a transport on a daemon thread.

    Events stay in the backlog (bounded by the emitter) while there is no connection,
    so the bound holds however long the collector is away; once taken from it, a batch
    is retried until delivered, from the first line the transport did not deliver.
    """

    def __init__(
        self,
        make_transport: Callable[[], Transport],
        encode: Encode,
        *,
        batch_size: int,
        linger: float,
        crowded_at: int,
        backoff: Backoff,
        name: str,
    ) -> None:
        self.backlog: deque[Record] = deque()
        self.counters = SenderCounters()
        #: Waiting for work: the first event sets ``wake``.
        self.sleeping = False
        #: Letting a burst gather: a crowded backlog, flush() or stop() set ``wake``.
        self.lingering = False
        self.wake = threading.Event()
        self._make_transport = make_transport
        self._encode = encode
        self._batch_size = batch_size
        self._linger = linger
        # A backlog this long is not waited on: a batch's worth, or crowded.
        self._linger_below = min(batch_size, crowded_at)
        self._backoff = backoff
        self._transport = make_transport()
        # Encoded lines taken from the backlog and not yet delivered, and how many.
        self._pending = b""
        self._pending_lines = 0
        self._stop_requested = threading.Event()
        self._deadline = float("inf")
        self._name = name
        self._thread = threading.Thread(target=self._run, name=f"numbat-emitter {name}", daemon=True)
        self._thread.start()

    @property
    def connected(self) -> bool:
        return self._transport.is_open

    @property
    def in_flight(self) -> int:
        """Events taken from the backlog and not yet delivered."""
        return self._pending_lines

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float) -> bool:
        """Flush for at most ``timeout`` seconds, then stop; True if nothing was left."""
        self._deadline = time.monotonic() + timeout
        self._stop_requested.set()
        self.wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout + 0.1)
        return not self.backlog and not self._pending

    # -- the thread ------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                try:
                    if not self._step():
                        return
                except Exception as exc:  # a bug of ours must not silence the service's metrics
                    self.counters.internal_errors += 1
                    self.counters.last_error = f"internal error: {exc!r}"
                    log.exception("numbat emitter: internal error; reconnecting")
                    self._transport.close()
                    self._pause()
        finally:
            self.counters.unsent_at_close = len(self.backlog) + self._pending_lines
            self._transport.close()

    def _step(self) -> bool:
        """One round of work; False when the sender is done."""
        stopping = self._stop_requested.is_set()
        if stopping and time.monotonic() >= self._deadline:
            return False
        if not self._pending and not self.backlog:
            if stopping:
                return False
            self._idle()
            return True
        if not self._transport.is_open and not self._open():
            self._pause()
            return True
        if not self._pending:
            self._take_batch()
        if self._pending:
            self._send()
        return True

    def _idle(self) -> None:
        # metric() sets `wake` only while `sleeping` is true; re-checking the backlog
        # after raising the flag closes the window between the check and the wait.
        self.sleeping = True
        if not self.backlog and not self._stop_requested.is_set():
            self.wake.wait(IDLE_WAKEUP)
        self.sleeping = False
        self.wake.clear()
        if not self._linger:
            return
        # Raised before the backlog is measured, as `sleeping` is: a call that finds the
        # backlog crowded after this measure finds the flag up, and cuts the wait.
        self.lingering = True
        if 0 < len(self.backlog) < self._linger_below and not self._stop_requested.is_set():
            self.wake.wait(self._linger)
        self.lingering = False
        self.wake.clear()

    def _open(self) -> bool:
        try:
            self._transport.open()
        except OSError as exc:
            self.counters.connect_failures += 1
            self.counters.last_error = f"connect failed: {exc}"
            if self._backoff.attempt == 0:  # say it once per outage, not once per retry
                log.warning("numbat emitter: cannot reach %s: %s; retrying with backoff", self._name, exc)
            return False
        self.counters.connects += 1
        if self._backoff.attempt:
            log.info("numbat emitter: reconnected to %s", self._name)
        return True

    def _pause(self) -> None:
        """Back off before the next attempt; a stop request cuts the wait to its deadline.
        Once stopping, the request is no longer something to wake for (its event stays set,
        and waiting on it would return at once: a connect loop spinning a core until the
        deadline), so the delay is slept."""
        delay = self._backoff.next_delay()
        if self._stop_requested.is_set():
            time.sleep(min(delay, max(0.0, self._deadline - time.monotonic())))
        else:
            self._stop_requested.wait(delay)

    def _take_batch(self) -> None:
        backlog = self.backlog
        records: list[Record] = []
        # popleft() called from C until the batch is taken: half the cost of a loop of
        # bytecode per record. extend() keeps what it took when the iterator raises.
        with suppress(IndexError):  # the emitter dropped the oldest while we were taking
            records.extend(islice(iter(backlog.popleft, None), min(len(backlog), self._batch_size)))
        self._pending, self._pending_lines, invalid, unencodable = self._encode(records)
        self.counters.invalid += invalid
        self.counters.unencodable += unencodable

    def _send(self) -> None:
        pending = self._pending
        counters = self.counters
        try:
            oversize = self._transport.send(pending)
        except SendFailed as failure:
            delivered = pending.count(b"\n", 0, failure.resume_at)
            counters.sent += delivered
            counters.bytes_sent += failure.resume_at
            counters.send_errors += 1
            counters.last_error = str(failure)
            if self._backoff.attempt == 0:
                log.warning("numbat emitter: lost %s: %s; reconnecting", self._name, failure)
            self._pending = pending[failure.resume_at :]
            self._pending_lines -= delivered
            self._transport.close()
            self._pause()
            return
        except Rejected as rejection:
            counters.rejected += self._pending_lines
            counters.last_error = str(rejection)
            log.warning("numbat emitter: %s refused %d events: %s", self._name, self._pending_lines, rejection)
        else:
            counters.sent += self._pending_lines - oversize
            counters.oversize += oversize
            counters.batches += 1
            counters.bytes_sent += len(pending)
            self._backoff.reset()
        self._pending = b""
        self._pending_lines = 0
