"""What an aggregation is told: its name, interval, statistics, bounds and rules.

Frozen dataclasses checked on construction, so a bad value fails where it is written
(the configuration loader turns the ValueError into its own error) and the aggregator
never meets one. Plain standard library: the configuration may import this module
without loading anything of the pipeline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

Kind = Literal["counter", "timer", "gauge", "set"]
RuleKind = Literal["counter", "timer", "gauge", "set", "pass"]
KINDS: tuple[Kind, ...] = ("counter", "timer", "gauge", "set")
RULE_KINDS: tuple[RuleKind, ...] = (*KINDS, "pass")


@dataclass(frozen=True)
class Rule:
    """How a numbat, Influx or Graphite event whose name matches ``match`` aggregates.

    ``match`` is a shell glob on the whole name, case-sensitive (``*`` crosses dots:
    ``web.*.latency`` matches ``web.a.b.latency``). ``key_fields`` are the event's fields
    that, with the name, make the series key (DogStatsD's tags play that part for statsd
    lines); the other fields are dropped from the summary. The first rule that matches
    decides; kind ``pass`` lets the event through unaggregated.
    """

    match: str
    kind: RuleKind
    key_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.match:
            raise ValueError("a rule needs a non-empty match")
        if self.kind not in RULE_KINDS:
            raise ValueError(f"rule kind {self.kind!r} is not one of {', '.join(RULE_KINDS)}")
        if len(set(self.key_fields)) != len(self.key_fields):
            raise ValueError(f"rule {self.match!r} names a key field twice")

    def matches(self, name: str) -> bool:
        return fnmatchcase(name, self.match)


@dataclass(frozen=True)
class AggregationOptions:
    """One named aggregation. Defaults are Etsy statsd's where it has one, except
    ``delete_idle_after`` (statsd's ``deleteIdleStats`` is off by default: it sends idle
    series as zeros forever, which is what floods stores with dead series).

    ``delete_idle_after`` counts the flushes a counter, timer or set may stay idle (no
    event in the interval) while it is still sent, as zeros, before it is deleted: 0 is
    statsd's ``deleteIdleStats = true``, None never deletes (statsd's default).
    ``delete_idle_after_by_kind`` overrides it per kind (``(("counter", None),)``).
    Gauges are levels, never zeros: they are kept and sent with their last value until
    ``gauge_ttl`` seconds pass without a new one (None: kept for ever, statsd's default).
    ``sample_rate_in_key`` makes a statsd line's sample rate a key field (``sample_rate``):
    lines of one name sent at two rates are two series, each scaled by its rate; statsd
    (the default, False) sums them into one.
    """

    name: str
    interval: float = 10.0
    percentiles: tuple[float, ...] = (50, 90, 99)
    histogram_bins: tuple[float, ...] = ()
    max_series: int = 100_000
    max_samples: int = 10_000
    max_set_members: int = 10_000
    delete_idle_after: int | None = 0
    gauge_ttl: float | None = None
    rules: tuple[Rule, ...] = ()
    delete_idle_after_by_kind: tuple[tuple[str, int | None], ...] = ()
    sample_rate_in_key: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("an aggregation needs a name")
        if not (math.isfinite(self.interval) and self.interval > 0):
            raise ValueError("interval must be a positive number of seconds")
        self._check_statistics()
        if self.max_series < 1:
            raise ValueError("max_series must be at least 1")
        if self.max_samples < 1:
            raise ValueError("max_samples must be at least 1")
        if self.max_set_members < 1:
            raise ValueError("max_set_members must be at least 1")
        self._check_idle()

    def _check_statistics(self) -> None:
        for pct in self.percentiles:
            if not (math.isfinite(pct) and pct != 0 and -100 <= pct <= 100):
                raise ValueError(f"percentile {pct} is not in [-100, 0) or (0, 100]")
        if len(set(self.percentiles)) != len(self.percentiles):
            raise ValueError("a percentile is named twice")
        bins = self.histogram_bins
        if any(math.isnan(b) for b in bins) or any(b >= a for a, b in zip(bins[1:], bins, strict=False)):
            raise ValueError("histogram_bins must be strictly increasing upper bounds")

    def _check_idle(self) -> None:
        if self.delete_idle_after is not None and self.delete_idle_after < 0:
            raise ValueError("delete_idle_after must be 0 or more (or None: never)")
        for kind, after in self.delete_idle_after_by_kind:
            if kind not in ("counter", "timer", "set"):
                raise ValueError(
                    f"delete_idle_after_by_kind: {kind!r} is not counter, timer or set (gauges: gauge_ttl)"
                )
            if after is not None and after < 0:
                raise ValueError(f"delete_idle_after_by_kind[{kind!r}] must be 0 or more (or None: never)")
        if self.gauge_ttl is not None and not (math.isfinite(self.gauge_ttl) and self.gauge_ttl >= 0):
            raise ValueError("gauge_ttl must be 0 or more seconds (or None: never)")

    def idle_limit(self, kind: Kind) -> int | None:
        """Idle flushes a series of ``kind`` is still sent (as zeros) before it is deleted."""
        return dict(self.delete_idle_after_by_kind).get(kind, self.delete_idle_after)

    def rule_for(self, name: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.matches(name)), None)
