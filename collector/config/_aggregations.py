"""The ``[[aggregations]]`` tables: named aggregations (statsd's flush, for every input
format), each with its interval, its statistics, its bounds and its rules; and the name
``raw`` that a sink's ``input`` takes for the events as they arrived.

The tables are TOML's spelling of the aggregation core's options: ``delete_idle_after =
"never"`` is the core's None (a series is never deleted: it sends zeros), and an absent
``gauge_ttl`` keeps gauges for ever. The stage converts them (collector.aggregate), so
reading a configuration loads no aggregator.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from ._checks import require, require_at_most

#: What a sink's ``input`` says for the events as they arrived; no aggregation may be called so.
RAW = "raw"
#: How a histogram bin for every sample past the last bound is named (statsd's config says 'inf').
INF = "inf"
#: ``delete_idle_after``'s word for "keep idle series, sent as zero".
NEVER = "never"
#: Event keys that are never part of a series key: what a summary is made of.
_NOT_KEYS = frozenset({"name", "value", "time", "kind"})
#: The kinds whose idle series are deleted after delete_idle_after flushes (gauges have gauge_ttl).
IDLE_KINDS = ("counter", "timer", "set")
MAX_INTERVAL = 86_400.0  #: a day: the longest flush interval
MAX_SERIES = 100_000_000  #: per aggregation (each series holds memory)
MAX_SAMPLES = 10_000_000  #: per timer series per interval, exact below
MAX_SET_MEMBERS = 10_000_000  #: per set series per interval, exact below


@dataclass(frozen=True)
class RuleConfig:
    """How events that did not come as statsd aggregate: the first rule whose ``match``
    (a glob on the name) fits decides."""

    match: str
    kind: Literal["counter", "timer", "gauge", "set", "pass"]
    #: Event fields that are part of the series key (and tags of the summary).
    key_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        require(bool(self.match), "match", "must be a glob such as 'web.*.latency'")
        for key in self.key_fields:
            require(bool(key), "key_fields", "a field name cannot be empty")
            require(key not in _NOT_KEYS, "key_fields", f"{key!r} is what a summary is made of, not a key field")
        require(len(set(self.key_fields)) == len(self.key_fields), "key_fields", "names a field twice")


@dataclass(frozen=True)
class AggregationConfig:
    """One named aggregation: sinks whose ``input`` names it get its summaries."""

    name: str
    interval: float = 10.0  #: seconds; flushes align to wall-clock multiples of it
    #: statsd's percentiles (upper_90, mean_90...); a negative one is statsd's lower N% ("top" in the name).
    percentiles: tuple[float, ...] = (50.0, 90.0, 99.0)
    #: Upper bounds of the timers' histogram bins, increasing (none: no bins); the last
    #: may be "inf": a bin for every sample past the bound before it.
    histogram_bins: tuple[float | str, ...] = ()
    max_series: int = 100_000  #: new series past it are dropped and counted
    max_samples: int = 10_000  #: per timer series per interval, kept exactly; past it a sketch
    #: Distinct members per set series per interval, kept exactly; past it a HyperLogLog (0.81 % error)
    max_set_members: int = 10_000
    #: Flushes a series may stay idle before it is deleted (0: at the first idle one);
    #: "never": it is kept and sent as zero (statsd's deleteIdleStats = false).
    delete_idle_after: int | str = 0
    #: The same per kind, overriding it: ``{ counter = "never", timer = 2 }`` (counter,
    #: timer, set; gauges have gauge_ttl).
    delete_idle_after_by_kind: dict[str, Any] = field(default_factory=dict)
    #: Seconds a gauge is kept (and sent) without a new value; absent: for ever; 0: sent
    #: only in the intervals it got one (statsd's deleteGauges).
    gauge_ttl: float | None = None
    #: A statsd line's sample rate makes a series of its own (a ``sample_rate`` key field),
    #: as well as scaling what is counted; statsd's way (false) sums a name's lines whatever their rate.
    sample_rate_in_key: bool = False
    rules: tuple[RuleConfig, ...] = ()  #: for numbat, Influx and Graphite events; none: they pass through

    def __post_init__(self) -> None:
        require(bool(self.name), "name", "must name the aggregation (sinks take it as their input)")
        require(self.name != RAW, "name", f"{RAW!r} is what a sink's input says for the events as they arrived")
        require(self.interval > 0, "interval", "must be a positive number of seconds")
        require_at_most(self.interval, MAX_INTERVAL, "interval")
        require(_whole_ms(self.interval), "interval", "must be a whole number of milliseconds")
        for percentile in self.percentiles:
            require(
                percentile != 0 and -100 <= percentile <= 100,
                "percentiles",
                f"{percentile!r}: each must be in -100..100 and not 0",
            )
        require(len(set(self.percentiles)) == len(self.percentiles), "percentiles", "names a percentile twice")
        for bound in self.histogram_bins:
            require(not isinstance(bound, str) or bound == INF, "histogram_bins", f"{bound!r}: a number or {INF!r}")
        bins = tuple(math.inf if bound == INF else float(bound) for bound in self.histogram_bins)
        object.__setattr__(self, "histogram_bins", bins)
        require(all(a < b for a, b in itertools.pairwise(bins)), "histogram_bins", "must increase")
        require(self.max_series > 0, "max_series", "must be positive")
        require_at_most(self.max_series, MAX_SERIES, "max_series")
        require(self.max_samples > 0, "max_samples", "must be positive")
        require_at_most(self.max_samples, MAX_SAMPLES, "max_samples")
        require(self.max_set_members > 0, "max_set_members", "must be positive")
        require_at_most(self.max_set_members, MAX_SET_MEMBERS, "max_set_members")
        _check_idle(self.delete_idle_after, "delete_idle_after")
        for kind, idle in self.delete_idle_after_by_kind.items():
            require(kind in IDLE_KINDS, "delete_idle_after_by_kind", f"{kind!r} is not one of {', '.join(IDLE_KINDS)}")
            _check_idle(idle, f"delete_idle_after_by_kind.{kind}")
        if self.gauge_ttl is not None:
            require(self.gauge_ttl >= 0, "gauge_ttl", "must not be negative")

    @property
    def interval_ms(self) -> int:
        return round(self.interval * 1000)


def _check_idle(idle: object, key: str) -> None:
    """A number of idle flushes, or "never"."""
    if isinstance(idle, str):
        require(idle == NEVER, key, f"must be a whole number of flushes or {NEVER!r}; got {idle!r}")
    else:
        require(isinstance(idle, int) and not isinstance(idle, bool), key, f"must be a whole number or {NEVER!r}")
        require(idle >= 0, key, f"must not be negative (or {NEVER!r})")  # type: ignore[operator]


def _whole_ms(seconds: float) -> bool:
    ms = seconds * 1000
    return math.isclose(ms, round(ms), rel_tol=0, abs_tol=1e-6) and round(ms) > 0
