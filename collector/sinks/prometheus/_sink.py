"""The ``prometheus`` sink: numbatd serves what it received as a page Prometheus scrapes,
as statsd_exporter and graphite_exporter do.

Its life: ``open`` binds the page's address (a sink that cannot bind does not start);
``maintain`` serves the page and sweeps expired series; ``write`` folds a batch into the
series (_absorb.py); ``close`` unbinds. The page lives in memory: a sink that stops, or
that a reload changes, starts again with an empty page (counters restart from zero,
which PromQL's ``rate()`` takes as a counter reset); a reload that leaves it unchanged
keeps it.

A write never raises for what an event holds: an event that cannot be on the page is
skipped and counted there, so the runner never writes a batch's halves again (which
would count the first half twice).

The page is rendered when scraped, at most once per change of the store and second
(two Prometheus servers scraping together share one rendering), and compressed in a
worker thread for scrapers that accept gzip.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import trio

from ...config import SinkConfig
from ...observe import FloodGate, SinkStats
from ...wire import Batch
from .._base import Sink
from .._http_server import Answer, Request, ServerLimits, SmallServer
from ._absorb import Absorber
from ._exposition import CONTENT_TYPE, render
from ._mapping import Mapper, MapperDefaults
from ._options import PrometheusOptions
from ._store import SeriesStore

#: Seconds between sweeps for expired series (statsd_exporter sweeps every second too).
SWEEP_INTERVAL = 1.0
#: Seconds a rendered page is served again while nothing changed.
PAGE_REUSE = 1.0
#: Pages smaller than this go uncompressed: gzip would save nothing worth its time.
GZIP_FROM = 1_024
MAX_REQUEST_BODY = 8 * 1024  #: a GET has no business sending more


class PrometheusSink(Sink[PrometheusOptions]):
    kind = "prometheus"
    Options = PrometheusOptions

    def __init__(self, config: SinkConfig, stats: SinkStats | None = None, state_dir: Path | None = None) -> None:
        super().__init__(config, stats, state_dir)
        options = self.options
        self.store = SeriesStore(options.max_series)
        defaults = MapperDefaults(options.ttl, options.observer_type, options.buckets, options.quantiles)
        self.absorber = Absorber(
            Mapper(options.mappings, defaults),
            self.store,
            summaries=not config.raw,
            label_fields=options.label_fields,
            exclude_fields=options.exclude_fields,
            max_text_length=options.max_text_length,
            summary_max_age=options.summary_max_age,
            summary_age_buckets=options.summary_age_buckets,
        )
        host, port = options.host_port
        limits = ServerLimits(options.max_connections, options.read_timeout, options.idle_timeout, MAX_REQUEST_BODY)
        self.server = SmallServer(
            host,
            port,
            name=f"prometheus {self.name}",
            respond=self._respond,
            refuse=_refusal,
            limits=limits,
            count=self.stats.page_request,
        )
        self._rendered: tuple[int, float, bytes] | None = None  # (store version, when, page)
        self._compressed: tuple[bytes, bytes] | None = None  # (page, its gzip)
        self._gate = FloodGate(1.0)
        self.stats.watch_series(lambda: self.store.count)

    async def open(self) -> None:
        await self.server.open()

    async def maintain(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.server.serve)
            nursery.start_soon(self._sweep)
            task_status.started()

    async def write(self, batch: Batch) -> None:
        skipped: dict[str, int] = {}
        examples: dict[str, str] = {}
        self.absorber.absorb(batch.events, trio.current_time(), skipped, examples)
        for reason, count in skipped.items():
            self.stats.skipped(reason, count)
            self._gate.warning(
                f"prometheus {self.name}: {reason}",
                "events not put on the page",
                sink=self.name,
                reason=reason,
                events=count,
                example=examples.get(reason, "")[:200],
            )

    async def close(self) -> None:
        await self.server.aclose()
        # the self-metric would hold the page's memory for as long as numbatd runs
        self.stats.watch_series(lambda: 0.0)

    def expire(self, now: float) -> None:
        removed = self.store.expire(now)
        if removed:
            self.stats.expired(len(removed))

    def render(self, now: float) -> bytes:
        """The page as it is at ``now``: reused while the store has not changed, for a second."""
        self.expire(now)
        cached = self._rendered
        if cached is not None and cached[0] == self.store.version and now - cached[1] < PAGE_REUSE:
            return cached[2]
        page = render(self.store.ordered(), now)
        self._rendered = (self.store.version, now, page)
        return page

    async def _respond(self, request: Request) -> Answer:
        """The page, at its one path, to GET and HEAD."""
        if request.target.partition("?")[0] != self.options.path:
            return Answer(404, f"not found: the page is at {self.options.path}\n".encode())
        if request.method not in ("GET", "HEAD"):
            return Answer(405, b"GET the page\n")
        page = self.render(trio.current_time())
        if not (request.accepts_gzip() and self.options.gzip and len(page) >= GZIP_FROM):
            return Answer(200, page, CONTENT_TYPE)
        compressed = self._compressed
        if compressed is None or compressed[0] is not page:
            compressed = (page, await trio.to_thread.run_sync(gzip.compress, page, 1))
            self._compressed = compressed
        return Answer(200, compressed[1], CONTENT_TYPE, gzipped=True)

    async def _sweep(self) -> None:
        while True:
            await trio.sleep(SWEEP_INTERVAL)
            self.expire(trio.current_time())


def _refusal(status: int, problem: str) -> Answer:
    return Answer(status, f"{problem}\n".encode())
