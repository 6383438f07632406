"""Fan-out: every batch to every sink that wants it, each through its own queue."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from .config import SinkConfig
from .events import Batch
from .queue import QueueClosed, SinkQueue


@dataclass(frozen=True)
class Route:
    config: SinkConfig
    queue: SinkQueue


class Router:
    """Listeners publish here. Routes are replaced whole on reload, never edited in place,
    so a publish in progress sees one consistent set."""

    def __init__(self) -> None:
        self.routes: tuple[Route, ...] = ()

    def replace(self, routes: Sequence[Route]) -> None:
        self.routes = tuple(routes)

    async def publish(self, batch: Batch) -> None:
        if not batch.events:
            return
        for route in self.routes:
            selected = batch.select(route.config.accepts) if route.config.filters else batch
            with contextlib.suppress(QueueClosed):  # a sink being replaced: its successor is in the next routes
                await route.queue.put(selected)
