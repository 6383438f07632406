"""numbatd's own metrics, in a prometheus-client registry of its own.

Counted per batch, never per event: a counter increment costs about as much as
decoding a short event. A sink's share is bound to its labels once (:class:`SinkStats`),
so counting costs a sink a method call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

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
        self._listener_metrics()
        self._sink_metrics()
        self._aggregation_metrics()
        self._alert_metrics()
        self.reloads = self._counter("numbat_config_reloads", "SIGHUP reloads, by result.", ["result"])

    def _listener_metrics(self) -> None:
        listener = ["listener", "format"]
        self.received_bytes = self._counter("numbat_listener_received_bytes", "Bytes read by a listener.", listener)
        self.received_messages = self._counter(
            "numbat_listener_received_messages",
            "Datagrams, stream reads or HTTP requests taken in by a listener.",
            listener,
        )
        self.decoded = self._counter("numbat_listener_decoded_events", "Events decoded.", listener)
        self.rejected = self._counter(
            "numbat_listener_rejected_lines",
            "Input lines refused, by reason (bad syntax, no name, too long...).",
            [*listener, "reason"],
        )
        self.connections = self._gauge("numbat_listener_connections", "Open stream and HTTP connections.", ["listener"])
        self.connections_refused = self._counter(
            "numbat_listener_connections_refused",
            "Connections closed at once, by reason: over the listener's max_connections, or over the process's "
            "fd budget (RLIMIT_NOFILE minus fd_reserve, shared by every listener).",
            ["listener", "reason"],
        )
        self.idle_closed = self._counter(
            "numbat_listener_idle_closed",
            "Connections closed after idle_timeout without progress (HTTP: between requests).",
            ["listener"],
        )
        self.read_timeouts = self._counter(
            "numbat_listener_read_timeouts",
            "HTTP connections closed because a request's head and body did not arrive within read_timeout.",
            ["listener"],
        )
        self.accept_errors = self._counter(
            "numbat_listener_accept_errors",
            "accept() failures for want of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM); the listener backs off.",
            ["listener", "error"],
        )
        self.connection_budget = self._gauge(
            "numbat_listener_connection_budget",
            "Connections every listener together may hold: RLIMIT_NOFILE minus fd_reserve.",
        )
        self.http_requests = self._counter(
            "numbat_listener_http_requests", "HTTP requests by status.", ["listener", "status"]
        )

    def _sink_metrics(self) -> None:
        sink = ["sink", "type"]
        self.queue_depth = self._gauge("numbat_sink_queue_events", "Events waiting for a sink.", sink)
        self.written = self._counter("numbat_sink_written_events", "Events a sink wrote.", sink)
        self.dropped = self._counter(
            "numbat_sink_dropped_events",
            "Events a sink lost: its queue overflowed, or it was stopped with events left.",
            [*sink, "cause"],
        )
        self.errors = self._counter("numbat_sink_errors", "Writes that failed and lost their batch.", sink)
        self.write_seconds = self._histogram(
            "numbat_sink_write_seconds",
            "Time a sink took to write one batch.",
            sink,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.retries = self._counter(
            "numbat_sink_retries", "Writes a sink will try again (store away, 5xx, timeouts).", sink
        )
        self.skipped = self._counter(
            "numbat_sink_skipped_events",
            "Events a sink does not write, by reason (heartbeat, cardinality, refused by the store, no line).",
            [*sink, "reason"],
        )
        self.request_seconds = self._histogram(
            "numbat_sink_request_seconds",
            "Time of one request to a remote store.",
            sink,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
        )
        self.spooled = self._counter("numbat_sink_spooled_events", "Events written to a sink's spool.", sink)
        self.replayed = self._counter(
            "numbat_sink_replayed_events", "Events replayed from a sink's spool to its store.", sink
        )
        self.delivered = self._counter(
            "numbat_sink_delivered_events",
            "Events in batches a remote store acknowledged, sent or replayed (points it refused included).",
            sink,
        )
        self.last_delivery = self._gauge(
            "numbat_sink_last_delivery_timestamp_seconds",
            "When a remote store last acknowledged a batch (Unix time): alert when it falls behind.",
            sink,
        )
        self.spool_bytes = self._gauge("numbat_sink_spool_bytes", "Size of a sink's spool.", sink)
        self.spool_events = self._gauge(
            "numbat_sink_spool_events", "Events in a sink's spool waiting for replay.", sink
        )
        self.spool_damaged = self._counter(
            "numbat_sink_spool_damaged", "Torn or corrupt stretches a spool skipped.", sink
        )
        self.sink_series = self._gauge(
            "numbat_sink_series", "Series a sink holds (prometheus: the series on its page).", sink
        )
        self.expired_series = self._counter(
            "numbat_sink_expired_series", "Series a sink removed after their ttl passed without an update.", sink
        )
        self.page_requests = self._counter(
            "numbat_sink_page_requests",
            "Requests for a sink's page (prometheus), by status; refused: connections past max_connections.",
            [*sink, "status"],
        )

    def _aggregation_metrics(self) -> None:
        aggregation = ["aggregation"]
        self.aggregated = self._counter(
            "numbat_aggregation_events", "Events an aggregation took in (the others pass it by).", aggregation
        )
        self.aggregation_series = self._gauge(
            "numbat_aggregation_series", "Series an aggregation holds: counters, timers, gauges, sets.", aggregation
        )
        self.aggregation_dropped_series = self._counter(
            "numbat_aggregation_dropped_series",
            "Events of new series an aggregation dropped: it held max_series already (the names are logged).",
            aggregation,
        )
        self.aggregation_sketched = self._counter(
            "numbat_aggregation_sketched_series",
            "Series an aggregation summarised past their exact bound in an interval: timers past max_samples "
            "(a DDSketch, kind=timer), sets past max_set_members (a HyperLogLog, kind=set).",
            [*aggregation, "kind"],
        )
        self.aggregation_refused = self._counter(
            "numbat_aggregation_refused_events",
            "Events an aggregation could not take (a value its rule's kind cannot hold); they still reach raw sinks.",
            aggregation,
        )
        self.summaries = self._counter(
            "numbat_aggregation_summaries", "Summaries an aggregation flushed to its sinks.", aggregation
        )
        self.flush_seconds = self._histogram(
            "numbat_aggregation_flush_seconds",
            "Time an aggregation took to make one flush's summaries.",
            aggregation,
            buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
        self.flush_lag = self._gauge(
            "numbat_aggregation_flush_lag_seconds",
            "How late the last flush began after its wall-clock boundary (statsd's timestamp_lag).",
            aggregation,
        )
        self.last_flush = self._gauge(
            "numbat_aggregation_last_flush_timestamp_seconds", "The time of an aggregation's last flush.", aggregation
        )

    def _alert_metrics(self) -> None:
        alert_output = ["output", "type"]
        self.alert_sent = self._counter(
            "numbat_alert_output_sent_notifications",
            "Notifications an alert output delivered (a remediation: commands that exited 0).",
            alert_output,
        )
        self.alert_failed = self._counter(
            "numbat_alert_output_failed_notifications",
            "Notifications an alert output did not deliver, by reason: rejected (a 4xx), gave up (max_attempts "
            "spent), unencodable (text JSON cannot hold), error (a bug), refresh (a periodic re-post failed); a "
            "remediation's exit status, timeout, not started.",
            [*alert_output, "reason"],
        )
        self.alert_retries = self._counter(
            "numbat_alert_output_retries",
            "Attempts an alert output will make again (no answer, 5xx, 429).",
            alert_output,
        )
        self.alert_dropped = self._counter(
            "numbat_alert_output_dropped_notifications",
            "Notifications an alert output lost unsent: its queue was full (overflow), or it stopped with them queued.",
            [*alert_output, "cause"],
        )
        self.alert_queue = self._gauge(
            "numbat_alert_output_queue_notifications", "Notifications waiting for an alert output.", alert_output
        )
        self.alert_incidents = self._gauge(
            "numbat_alert_incidents_open",
            "Incidents an alerts sink holds open, by rule and severity.",
            ["sink", "rule", "severity"],
        )
        self.alert_notifications = self._counter(
            "numbat_alert_notifications",
            "Notifications an alerts sink's engine handed to its outputs, by action (trigger, update, resolve, "
            "renotify, remediate).",
            ["sink", "action"],
        )
        self.alert_silenced = self._counter(
            "numbat_alert_silenced_notifications",
            "Notifications an alerts sink held back under a silence, by action.",
            ["sink", "action"],
        )
        self.alert_evaluation_seconds = self._histogram(
            "numbat_alert_evaluation_seconds",
            "Time of one call of an alerts sink's engine: a batch of events observed, or a tick of its timers.",
            ["sink", "call"],
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
        )

    def _counter(self, name: str, text: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(name, text, labels, registry=self.registry)

    def _gauge(self, name: str, text: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(name, text, labels, registry=self.registry)

    def _histogram(self, name: str, text: str, labels: Sequence[str], buckets: Sequence[float]) -> Histogram:
        return Histogram(name, text, labels, registry=self.registry, buckets=buckets)

    def sink_summary(self, sink: str) -> dict[str, object]:
        """One sink's totals so far, by what happened to its events (for the stop's log)."""
        summary: dict[str, object] = {}
        for key, metric, by in (
            ("written", self.written, None),
            ("delivered", self.delivered, None),
            ("dropped", self.dropped, "cause"),
            ("skipped", self.skipped, "reason"),
        ):
            values = self.values(metric, by, sink=sink)
            if values:
                summary[key] = int(values[""]) if by is None else {k: int(v) for k, v in values.items()}
        return summary

    @staticmethod
    def values(metric: Counter, by: str | None = None, **labels: str) -> dict[str, float]:
        """A counter's totals over the samples that carry ``labels``, by the label ``by``
        (one total under "" when ``by`` is None); zeros left out."""
        totals: dict[str, float] = {}
        for family in metric.collect():
            for sample in family.samples:
                if sample.name.endswith("_total") and all(sample.labels.get(k) == v for k, v in labels.items()):
                    key = sample.labels[by] if by else ""
                    totals[key] = totals.get(key, 0.0) + sample.value
        return {key: value for key, value in totals.items() if value}

    @staticmethod
    def total(metric: Counter) -> float:
        """The sum over every label set of a counter."""
        return sum(
            sample.value for family in metric.collect() for sample in family.samples if sample.name.endswith("_total")
        )


class SinkStats:
    """One sink's share of the self-metrics, bound to its labels."""

    def __init__(self, metrics: SelfMetrics, name: str, kind: str) -> None:
        labels = (name, kind)
        self._metrics, self._labels = metrics, labels
        self.metrics = metrics  #: the registry it belongs to (an alerts sink adds its own stats)
        self.retried = metrics.retries.labels(*labels).inc
        self.spooled = metrics.spooled.labels(*labels).inc
        self.replayed = metrics.replayed.labels(*labels).inc
        self.spool_damaged = metrics.spool_damaged.labels(*labels).inc
        self.request_seconds = metrics.request_seconds.labels(*labels)
        self.dropped_overflow = metrics.dropped.labels(*labels, "overflow").inc
        self.dropped_spool_cap = metrics.dropped.labels(*labels, "spool full").inc
        self.dropped_stopped = metrics.dropped.labels(*labels, "stopped").inc
        self._delivered = metrics.delivered.labels(*labels)
        self._last_delivery = metrics.last_delivery.labels(*labels)

    def delivered(self, count: int) -> None:
        self._delivered.inc(count)
        self._last_delivery.set_to_current_time()

    def skipped(self, reason: str, count: int = 1) -> None:
        self._metrics.skipped.labels(*self._labels, reason).inc(count)

    def watch_spool(self, size_bytes: Callable[[], float], events: Callable[[], float]) -> None:
        self._metrics.spool_bytes.labels(*self._labels).set_function(size_bytes)
        self._metrics.spool_events.labels(*self._labels).set_function(events)

    def watch_series(self, series: Callable[[], float]) -> None:
        self._metrics.sink_series.labels(*self._labels).set_function(series)

    def expired(self, count: int) -> None:
        self._metrics.expired_series.labels(*self._labels).inc(count)

    def page_request(self, status: str) -> None:
        self._metrics.page_requests.labels(*self._labels, status).inc()


class AggregationStats:
    """One aggregation's share of the self-metrics, bound to its label."""

    def __init__(self, metrics: SelfMetrics, name: str) -> None:
        self._metrics, self._name = metrics, name
        self.aggregated = metrics.aggregated.labels(name).inc
        self.dropped_series = metrics.aggregation_dropped_series.labels(name).inc
        self.refused = metrics.aggregation_refused.labels(name).inc
        self.sketched_timers = metrics.aggregation_sketched.labels(name, "timer").inc
        self.estimated_sets = metrics.aggregation_sketched.labels(name, "set").inc
        self.summaries = metrics.summaries.labels(name).inc
        self.flush_seconds = metrics.flush_seconds.labels(name).observe
        self.flush_lag = metrics.flush_lag.labels(name).set
        self.last_flush = metrics.last_flush.labels(name).set

    def watch_series(self, series: Callable[[], float]) -> None:
        self._metrics.aggregation_series.labels(self._name).set_function(series)

    def forget(self) -> None:
        """The aggregation is gone from the configuration: its gauges go too (its counters stay)."""
        for gauge in (self._metrics.aggregation_series, self._metrics.flush_lag, self._metrics.last_flush):
            with contextlib.suppress(KeyError):
                gauge.remove(self._name)


class AlertSinkStats:
    """An alerts sink's share of the self-metrics: its incidents, notifications and
    evaluation time (its outputs have :class:`AlertOutputStats` each)."""

    def __init__(self, metrics: SelfMetrics, sink: str) -> None:
        self.metrics, self._sink = metrics, sink
        self.observe_seconds = metrics.alert_evaluation_seconds.labels(sink, "observe").observe
        self.tick_seconds = metrics.alert_evaluation_seconds.labels(sink, "tick").observe
        self._open: set[tuple[str, str]] = set()

    def notified(self, action: str, count: int = 1) -> None:
        self.metrics.alert_notifications.labels(self._sink, action).inc(count)

    def silenced(self, action: str, count: int = 1) -> None:
        self.metrics.alert_silenced.labels(self._sink, action).inc(count)

    def set_open(self, counts: dict[tuple[str, str], int]) -> None:
        """The open incidents now, by (rule, severity); pairs no longer open are removed."""
        gauge = self.metrics.alert_incidents
        for rule, severity in self._open - counts.keys():
            with contextlib.suppress(KeyError):
                gauge.remove(self._sink, rule, severity)
        for (rule, severity), count in counts.items():
            gauge.labels(self._sink, rule, severity).set(count)
        self._open = set(counts)


class AlertOutputStats:
    """One alert output's share of the self-metrics, bound to its labels."""

    def __init__(self, metrics: SelfMetrics, name: str, kind: str) -> None:
        labels = (name, kind)
        self._metrics, self._labels = metrics, labels
        self.sent = metrics.alert_sent.labels(*labels).inc
        self.retried = metrics.alert_retries.labels(*labels).inc
        self.dropped_overflow = metrics.alert_dropped.labels(*labels, "overflow").inc
        self.dropped_stopped = metrics.alert_dropped.labels(*labels, "stopped").inc

    def failed(self, reason: str) -> None:
        self._metrics.alert_failed.labels(*self._labels, reason).inc()

    def watch_queue(self, depth: Callable[[], float]) -> None:
        self._metrics.alert_queue.labels(*self._labels).set_function(depth)

    def forget(self) -> None:
        """The output is gone from the configuration: its gauge goes too (its counters stay)."""
        with contextlib.suppress(KeyError):
            self._metrics.alert_queue.remove(*self._labels)
