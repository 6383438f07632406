"""The bounded queue in front of each sink, counted in events, with its overflow policy.

The router puts batches in; the sink's runner takes them out (:meth:`SinkQueue.take`,
merging small ones up to the sink's batch size) and, at a stop, takes what is left
(:meth:`SinkQueue.take_all`) to save it. "Take" means that here and nowhere else.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import trio

from ..wire import Batch


class QueueClosed(Exception):
    """put() after close(): the sink is going away."""


class SinkQueue:
    """Batches waiting for one sink. Batches are shared between sinks: nobody changes one
    after it is published.

    ``drop_oldest`` never waits: when a batch does not fit, the oldest events go
    (counted through ``on_drop``). ``block`` makes the producer wait for room, which
    backpressures TCP senders through their listener.
    """

    def __init__(self, capacity: int, overflow: str, on_drop: Callable[[int], None] = lambda n: None) -> None:
        self.capacity = capacity
        self.overflow = overflow
        self._on_drop = on_drop
        self._batches: deque[Batch] = deque()
        self._events = 0
        self._closed = False
        self._readers = trio.lowlevel.ParkingLot()
        self._writers = trio.lowlevel.ParkingLot()

    def __len__(self) -> int:
        """Events waiting."""
        return self._events

    async def put(self, batch: Batch) -> None:
        if self._closed:
            raise QueueClosed
        if not len(batch):
            return
        if self.overflow == "block":
            while self._events and self._events + len(batch) > self.capacity:
                self._readers.unpark_all()  # a reader lingering for more: take what there is
                await self._writers.park()
                if self._closed:
                    raise QueueClosed
        else:
            batch = self._make_room(batch)
        self._batches.append(batch)
        self._events += len(batch)
        self._readers.unpark_all()

    def _make_room(self, batch: Batch) -> Batch:
        """Drop the oldest events so that ``batch`` fits; return what of it to queue.

        Batches are shared by every sink they were routed to, so they are never cut in
        place: a shortened batch is a new one.
        """
        excess = self._events + len(batch) - self.capacity
        dropped = 0
        while excess > 0 and self._batches:
            oldest = self._batches[0]
            cut = min(len(oldest), excess)
            if cut == len(oldest):
                self._batches.popleft()
            else:
                self._batches[0] = oldest.slice(cut)
            self._events -= cut
            excess -= cut
            dropped += cut
        if excess > 0:  # the new batch alone is larger than the queue: keep its newest events
            batch = batch.slice(excess)
            dropped += excess
        if dropped:
            self._on_drop(dropped)
        return batch

    async def take(self, max_events: int, linger: float = 0.0) -> Batch | None:
        """Wait for events and take up to ``max_events`` (at least one batch, whole).
        With ``linger``, wait up to that many seconds for ``max_events`` to gather first,
        so a slow trickle still makes batches. None once the queue is closed and empty."""
        while not self._batches:
            if self._closed:
                return None
            await self._readers.park()
        # Linger for a fuller batch, but not while a producer waits for room: what it
        # waits for is this very take, and the batch could never fill.
        if linger > 0 and self._events < max_events and not self._closed and not self._writers:
            with trio.move_on_after(linger):
                while self._events < max_events and not self._closed and not self._writers:
                    await self._readers.park()
        taken = self._batches.popleft()
        if self._batches and len(taken) + len(self._batches[0]) <= max_events:
            merged = taken.slice(0)  # a copy: the batches queued are shared with other sinks
            while self._batches and len(merged) + len(self._batches[0]) <= max_events:
                merged.extend(self._batches.popleft())
            taken = merged
        self._events -= len(taken)
        self._writers.unpark_all()
        return taken

    def take_all(self) -> list[Batch]:
        """Everything still queued, at once (a sink that is stopping saves it elsewhere)."""
        batches, self._batches, self._events = list(self._batches), deque(), 0
        self._writers.unpark_all()
        return batches

    def close(self) -> None:
        """No more puts; readers take what is left, then None."""
        self._closed = True
        self._readers.unpark_all()
        self._writers.unpark_all()
