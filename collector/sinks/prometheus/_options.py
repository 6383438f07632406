"""The keys of a ``type = "prometheus"`` sink, each checked as the configuration is read."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ...config import SinkOptions, require, require_at_most
from ...config._checks import check_host_port
from ._mapping import DEFAULT_BUCKETS, DEFAULT_QUANTILES, MappingRule, ObserverType, check_quantiles

#: Fields that are never labels: what an event is made of, and what statsd adds to it.
OWN_FIELDS = frozenset({"name", "value", "time", "statsd_type", "rate", "gauge_delta"})
MAX_SERIES = 100_000_000


@dataclass(frozen=True)
class PrometheusOptions(SinkOptions):
    #: host:port of the page (statsd_exporter's port is 9102, graphite_exporter's 9108).
    listen: str = "127.0.0.1:9102"
    path: str = "/metrics"
    mappings: tuple[MappingRule, ...] = ()
    #: Seconds a series stays on the page without an update (0: for ever); a rule's ttl overrides it.
    ttl: float = 0.0
    #: Series on the page; an event of a new series past it is dropped and counted.
    max_series: int = 100_000
    #: Longest metric name, label name or label value (characters); an event that would
    #: make a longer one is dropped and counted.
    max_text_length: int = 1_024
    observer_type: ObserverType = "summary"  #: what timers become: "summary" or "histogram"
    buckets: tuple[float, ...] = DEFAULT_BUCKETS  #: histograms' upper bounds (+Inf is added)
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES  #: summaries' quantiles
    summary_max_age: float = 600.0  #: seconds a summary's quantiles cover
    summary_age_buckets: int = 5  #: windows that make that span, each dropped whole as it ages
    #: When set, the only event fields that become labels; else every field but those below.
    label_fields: tuple[str, ...] = ()
    #: Fields that never become labels (free text, a heartbeat's ttl).
    exclude_fields: tuple[str, ...] = ("description", "ttl")
    max_connections: int = 64  #: scrapers at once; more are closed at once, counted
    read_timeout: float = 10.0  #: seconds a request may take to arrive, once begun
    idle_timeout: float = 300.0  #: seconds a kept-alive connection may wait, or take to read the page
    gzip: bool = True  #: compress the page for scrapers that accept gzip (Prometheus does)

    def __post_init__(self) -> None:
        check_host_port(self.listen, "listen")
        require(self.path.startswith("/"), "path", f"{self.path!r} must start with /")
        require(self.ttl >= 0, "ttl", "must not be negative (0: never)")
        require(self.max_series > 0, "max_series", "must be positive")
        require_at_most(self.max_series, MAX_SERIES, "max_series")
        require(self.max_text_length >= 16, "max_text_length", "must be at least 16")
        require(bool(self.buckets), "buckets", "must name at least one bound")
        require(all(a < b for a, b in itertools.pairwise(self.buckets)), "buckets", "must increase")
        check_quantiles(self.quantiles, "quantiles")
        require(self.summary_max_age > 0, "summary_max_age", "must be positive")
        require(self.summary_age_buckets > 0, "summary_age_buckets", "must be positive")
        require_at_most(self.summary_age_buckets, 100, "summary_age_buckets")
        for key in ("label_fields", "exclude_fields"):
            for name in getattr(self, key):
                require(bool(name), key, "a field name cannot be empty")
                require(name not in OWN_FIELDS, key, f"{name!r} is what an event is made of, never a label")
        require(self.max_connections > 0, "max_connections", "must be positive")
        require_at_most(self.max_connections, 10_000, "max_connections")
        require(self.read_timeout > 0, "read_timeout", "must be positive")
        require(self.idle_timeout > 0, "idle_timeout", "must be positive")

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)
