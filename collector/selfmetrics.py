"""numbatd's own metrics, in a prometheus-client registry of its own.

Counted per batch, never per event: a counter increment costs about as much as
decoding a short event.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.gc_collector import GCCollector


class SelfMetrics:
    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series say nothing here
        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        listener = ["listener", "format"]
        self.received_bytes = Counter(
            "numbat_listener_received_bytes", "Bytes read by a listener.", listener, registry=registry
        )
        self.received_messages = Counter(
            "numbat_listener_received_messages",
            "Datagrams, stream reads or HTTP requests taken in by a listener.",
            listener,
            registry=registry,
        )
        self.decoded = Counter("numbat_listener_decoded_events", "Events decoded.", listener, registry=registry)
        self.rejected = Counter(
            "numbat_listener_rejected_lines",
            "Input lines refused, by reason (bad syntax, no name, too long...).",
            [*listener, "reason"],
            registry=registry,
        )
        self.connections = Gauge(
            "numbat_listener_connections", "Open stream connections.", ["listener"], registry=registry
        )
        self.connections_refused = Counter(
            "numbat_listener_connections_refused",
            "Connections closed at once: over max_connections.",
            ["listener"],
            registry=registry,
        )
        self.idle_closed = Counter(
            "numbat_listener_idle_closed", "Connections closed after idle_timeout.", ["listener"], registry=registry
        )
        self.http_requests = Counter(
            "numbat_listener_http_requests", "HTTP requests by status.", ["listener", "status"], registry=registry
        )
        sink = ["sink", "type"]
        self.queue_depth = Gauge("numbat_sink_queue_events", "Events waiting for a sink.", sink, registry=registry)
        self.written = Counter("numbat_sink_written_events", "Events a sink wrote.", sink, registry=registry)
        self.dropped = Counter(
            "numbat_sink_dropped_events",
            "Events a sink lost: its queue overflowed, or it was stopped with events left.",
            [*sink, "cause"],
            registry=registry,
        )
        self.errors = Counter(
            "numbat_sink_errors", "Failed writes (retried where the sink can).", sink, registry=registry
        )
        self.write_seconds = Histogram(
            "numbat_sink_write_seconds",
            "Time a sink took to write one batch.",
            sink,
            registry=registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.reloads = Counter("numbat_config_reloads", "SIGHUP reloads, by result.", ["result"], registry=registry)
