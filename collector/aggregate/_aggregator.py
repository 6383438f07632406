"""The aggregation core: events in, a clock handed in, summaries out. Sans-I/O.

Strategy: one dict per kind from a series key, ``(name, key fields)``, to the
interval's state (a counter's float, a :class:`TimerSeries`, a set of members or, past
``max_set_members``, a :class:`HyperLogLog` in a dict of its own), so
adding a statsd line is a dict lookup and an addition; idle counters, timers and sets
keep only their count of idle flushes in a second dict, and gauges, which are kept
between flushes, have one dict of their own. :meth:`Aggregator.flush` turns every series
into a summary (see _summary.py), ages the idle ones and starts the next interval.

statsd events (``statsd_type`` set by collector.wire's statsd decoder) carry their kind:
``c`` counter, ``ms``, ``h`` and ``d`` timers (Etsy statsd treats ``h`` and ``d`` as
counters; DogStatsD and Telegraf as timers, as here), ``g`` gauge, ``s`` set; their tags
(every field but the decoder's own) are the key fields. DogStatsD events (``e``) and
service checks (``sc``) pass through. Other events aggregate by the first rule whose glob
matches their name, or pass through. The sample rate scales what is counted, as in
statsd (a counter adds ``value * (1 / rate)``, a timer's count ``1 / rate``); by default
it is no part of the key, since statsd sums a name's lines whatever their rate into one
series; ``sample_rate_in_key`` makes it a key field, ``sample_rate``.

Gauges follow statsd: ``+N`` / ``-N`` (``gauge_delta``) changes the kept value, an
unsigned value replaces it, and a change to a gauge that is absent or 0 sets it. statsd's
only way to set a negative value is therefore ``x:0|g`` then ``x:-5|g`` (in one datagram,
so that nothing flushes between them); numbat, Influx and Graphite events under a gauge
rule say it directly: their value is the level (``-5`` sets -5) unless the event has
``"gauge_delta": true``.

The clock is the caller's: an event's own time is not looked at (statsd ignores it
too); it counts in the interval it arrives in, and summaries carry the flush's time.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from emitter.event import Event

from ._distinct import HyperLogLog
from ._options import AggregationOptions, Kind, Rule
from ._summary import Summary, key_field_name
from ._timers import TimerSeries, timer_statistics

if TYPE_CHECKING:  # the scan module loads numba: the Intake imports it, only when it scans
    from ._statsd_scan import StatsdScan

Labels = tuple[tuple[str, Any], ...]
#: A series: its name alone when it has no labels (most statsd series: a tuple more
#: would cost 56 bytes a series), else its name and its labels.
SeriesKey = str | tuple[str, Labels]

#: statsd types and the kind each aggregates as.
STATSD_KINDS: dict[str, Kind] = {"c": "counter", "ms": "timer", "h": "timer", "d": "timer", "g": "gauge", "s": "set"}
#: DogStatsD's events and service checks: numbat events as they are.
STATSD_PASSING = frozenset({"e", "sc"})
#: What the statsd decoder writes besides the tags.
STATSD_FIELDS = frozenset({"name", "value", "time", "statsd_type", "rate", "gauge_delta"})
#: The key field a statsd line's sample rate becomes under ``sample_rate_in_key``.
SAMPLE_RATE = "sample_rate"
#: Names counted one by one in ``dropped``; the rest are counted together under this.
MAX_DROPPED_NAMES = 1_000
OTHER_NAMES = "(other names)"
_RULE_CACHE_SIZE = 65_536
_NO_RULE = Rule("-", "pass")
_IDLE_TIMER = {"count": 0.0, "count_ps": 0.0}


@dataclass(slots=True)
class AggregatorStats:
    """What an aggregator has counted since it started, for self-metrics."""

    aggregated: int = 0  # events taken into a series
    passed: int = 0  # events handed back unaggregated (add returned False)
    not_aggregated: Counter[str] = field(default_factory=Counter)  # of the passed: why, when a rule matched
    series_created: int = 0
    series_deleted: int = 0  # idle ones, and gauges past their TTL
    dropped: Counter[str] = field(default_factory=Counter)  # events of new series past max_series, by name
    samples_sketched: int = 0  # timer samples that went into a sketch rather than kept exactly
    series_sketched: int = 0  # timer intervals that went past max_samples
    sets_estimated: int = 0  # set intervals that went past max_set_members (counted by a HyperLogLog)
    flushes: int = 0
    summaries: int = 0

    @property
    def dropped_total(self) -> int:
        return self.dropped.total()


class GaugeSeries:
    __slots__ = ("flushed_ms", "touched", "value")

    def __init__(self, value: float) -> None:
        self.value = value
        self.touched = True
        self.flushed_ms = 0  # the flush that last saw a new value


class Aggregator:
    """One named aggregation's state. Not thread-safe: one task owns it."""

    def __init__(self, options: AggregationOptions) -> None:
        self.options = options
        self.stats = AggregatorStats()
        self._series = 0
        self._counters: dict[SeriesKey, float] = {}
        self._timers: dict[SeriesKey, TimerSeries] = {}
        self._sets: dict[SeriesKey, set[Any]] = {}
        self._estimated: dict[SeriesKey, HyperLogLog] = {}  # sets past max_set_members this interval
        self._gauges: dict[SeriesKey, GaugeSeries] = {}
        self._idle: dict[Kind, dict[SeriesKey, int]] = {"counter": {}, "timer": {}, "set": {}}
        self._rules: dict[str, Rule] = {}
        self._key_names: dict[str, str] = {}
        self.reconfigure(options)

    def reconfigure(self, options: AggregationOptions) -> None:
        """New options for the series kept so far (a configuration reload). A lower
        ``max_series`` refuses new series until enough old ones are deleted."""
        self.options = options
        self._max_series = options.max_series
        self._max_samples = options.max_samples
        self._max_set_members = options.max_set_members
        self._bins = tuple(float(bound) for bound in options.histogram_bins)
        self._rate_in_key = options.sample_rate_in_key
        self._rules.clear()

    @property
    def series(self) -> int:
        """The series kept: those of this interval and idle ones not yet deleted."""
        return self._series

    def add(self, event: Event) -> bool:
        """Take ``event`` into its series; False when it is not aggregated and should go on
        as it is (no rule, rule kind ``pass``, an event or service check, a value the
        kind cannot take). An event of a new series past ``max_series`` is dropped and
        counted by name, and True is returned: it was taken, and is not to flood on."""
        statsd_type = event.get("statsd_type")
        kind = STATSD_KINDS.get(statsd_type) if statsd_type is not None else None
        if kind is None:
            return self._add_by_rule(event, statsd_type)
        try:  # free unless it raises: only a numbat event dressed as statsd can make it
            name = event["name"]
            labels = () if len(event) == 4 else self._statsd_labels(event)
            rate = event.get("rate")
            if rate is not None and self._rate_in_key and "sample_rate" not in event:
                labels = tuple(sorted((*labels, (SAMPLE_RATE, rate))))
            key = (name, labels) if labels else name
            value = event["value"]
            if kind == "counter":
                self._count(key, float(value) if rate is None else value * (1 / rate))
            elif kind == "timer":
                self._time(key, float(value), 1.0 if rate is None else 1 / rate)
            elif kind == "gauge":
                self._gauge(key, float(value), event.get("gauge_delta", False))
            else:
                self._member(key, _hashable(value))
        except (TypeError, ValueError, ZeroDivisionError, KeyError):
            return self._refuse("not a statsd metric")  # nothing was changed: each step raises before
        return True

    def _add_by_rule(self, event: Event, statsd_type: Any) -> bool:
        name = event.get("name")
        rule = self._rule(name) if isinstance(name, str) and statsd_type not in STATSD_PASSING else _NO_RULE
        if rule.kind == "pass":
            self.stats.passed += 1
            return False
        assert isinstance(name, str)
        value: Any = event.get("value")
        if rule.kind == "set":
            value = _hashable(value)
        elif value.__class__ not in (int, float) or not math.isfinite(value):
            return self._refuse("value is not a number")
        labels = self._rule_labels(event, rule)
        key = (name, labels) if labels else name
        if rule.kind == "counter":
            self._count(key, float(value))
        elif rule.kind == "timer":
            self._time(key, float(value), 1.0)
        elif rule.kind == "gauge":
            self._gauge(key, float(value), event.get("gauge_delta") is True)
        else:
            self._member(key, value)
        return True

    def add_scan(self, scan: StatsdScan, others: Sequence[Event] = ()) -> bool:
        """Take the lines :func:`~._statsd_scan.scan_statsd` took from a payload, as
        :meth:`add` would take their events one by one: each series is looked up (and
        admitted) once, in the order it first appeared, then the compiled pass folds its
        lines into its state. A timer that would pass ``max_samples`` takes its lines one
        by one, through the same path as :meth:`add`.

        ``others`` are the events of the payload's other lines, which the caller adds
        next. The scan keeps no order between its lines and those, and two cases need
        it: one of those is of a series the scan also has (a gauge set, then changed), or
        the new series might not all fit under ``max_series`` (which are admitted goes by
        order). The scan keys series by name alone, so sampled lines under
        ``sample_rate_in_key`` are a third case. Then nothing is taken, and False is
        returned, for the caller to add the payload's events in order instead."""
        if (
            (self._rate_in_key and scan.sampled)
            or self._shares_a_series(scan, others)
            or (
                self._series + len(scan.names) + len(others) > self._max_series
                and not self._room_for(scan, len(others))
            )
        ):
            return False
        names, kinds = scan.names, scan.kind_names()
        count = len(names)
        start, present, take = [0.0] * count, [False] * count, [False] * count
        for number, name in enumerate(names):
            kind, lines = kinds[number], scan.lines_of(number)
            if kind == "counter":
                current = self._scanned_counter(name, lines)
            elif kind == "timer":
                current = self._scanned_timer(name, lines, scan, number)
            else:
                current = self._scanned_gauge(name, lines)
            if current is not None:
                start[number], present[number] = current
                take[number] = True
                self.stats.aggregated += lines
        folded = scan.accumulate(start, present, take)
        for number in [number for number, taken in enumerate(take) if taken]:
            name, kind, state = names[number], kinds[number], folded[number]
            if kind == "counter":
                self._counters[name] = state
            elif kind == "timer":
                self._timers[name].count = state
            elif present[number]:
                gauge = self._gauges[name]
                gauge.value, gauge.touched = state, True
            else:
                self._gauges[name] = GaugeSeries(state)
        return True

    @staticmethod
    def _shares_a_series(scan: StatsdScan, others: Sequence[Event]) -> bool:
        """Is one of ``others`` a statsd event without tags named like a series of ``scan``?"""
        if not others:
            return False
        names = scan.name_set()
        return any(event["name"] in names and event.keys() <= STATSD_FIELDS for event in others)

    def _room_for(self, scan: StatsdScan, others: int) -> bool:
        """Room for every new series of ``scan`` and ``others`` events of new series?"""
        idle = self._idle
        kept: dict[str, dict[SeriesKey, Any]] = {
            "counter": self._counters,
            "timer": self._timers,
            "gauge": self._gauges,
        }
        new = sum(
            name not in kept[kind] and name not in idle.get(kind, {})
            for name, kind in zip(scan.names, scan.kind_names(), strict=True)
        )
        return self._series + new + others <= self._max_series

    def _scanned_counter(self, name: str, lines: int) -> tuple[float, bool] | None:
        """A scanned counter's (total, present), or None when its series is refused."""
        total = self._counters.get(name)
        if total is not None:
            return total, True
        if self._idle["counter"].pop(name, None) is None and not self._admit(name, lines):
            return None
        return 0.0, False

    def _scanned_timer(self, name: str, lines: int, scan: StatsdScan, number: int) -> tuple[float, bool] | None:
        """A scanned timer's (count, present) once its samples are added; None when its
        series is refused, or its lines were taken one by one (it reaches ``max_samples``)."""
        timer = self._timers.get(name)
        if timer is None:
            if self._idle["timer"].pop(name, None) is None and not self._admit(name, lines):
                return None
            timer = self._timers[name] = TimerSeries()
        if timer.sketch is not None or len(timer.samples) + lines > self._max_samples:
            for value, weight, _ in scan.lines(number):
                self._time(name, value, weight)
            return None
        timer.samples += scan.values_of(number)
        return timer.count, True

    def _scanned_gauge(self, name: str, lines: int) -> tuple[float, bool] | None:
        """A scanned gauge's (value, present), or None when its series is refused."""
        gauge = self._gauges.get(name)
        if gauge is not None:
            return gauge.value, True
        if not self._admit(name, lines):
            return None
        return 0.0, False

    def _count(self, key: SeriesKey, amount: float) -> None:
        counters = self._counters
        total = counters.get(key)
        if total is None:
            if self._idle["counter"].pop(key, None) is None and not self._admit(_name_of(key)):
                return
            counters[key] = amount
        else:
            counters[key] = total + amount
        self.stats.aggregated += 1

    def _time(self, key: SeriesKey, value: float, weight: float) -> None:
        timer = self._timers.get(key)
        if timer is None:
            if self._idle["timer"].pop(key, None) is None and not self._admit(_name_of(key)):
                return
            timer = self._timers[key] = TimerSeries()
        if timer.sketch is None:
            samples = timer.samples
            samples.append(value)
            if len(samples) > self._max_samples:
                self.stats.samples_sketched += timer.start_sketch(self._bins)
                self.stats.series_sketched += 1
        else:
            timer.add_sketched(value, self._bins)
            self.stats.samples_sketched += 1
        timer.count += weight
        self.stats.aggregated += 1

    def _gauge(self, key: SeriesKey, value: float, delta: bool) -> None:
        gauge = self._gauges.get(key)
        if gauge is None:
            if not self._admit(_name_of(key)):
                return
            self._gauges[key] = GaugeSeries(value)
        else:
            gauge.value = gauge.value + value if delta and gauge.value else value
            gauge.touched = True
        self.stats.aggregated += 1

    def _member(self, key: SeriesKey, value: Any) -> None:
        members = self._sets.get(key)
        if members is None:
            estimated = self._estimated.get(key)
            if estimated is not None:
                estimated.add(value)
                self.stats.aggregated += 1
                return
            if self._idle["set"].pop(key, None) is None and not self._admit(_name_of(key)):
                return
            members = self._sets[key] = set()
        members.add(value)
        if len(members) > self._max_set_members:
            self._estimate(key, members)
        self.stats.aggregated += 1

    def _estimate(self, key: SeriesKey, members: set[Any]) -> None:
        """A set past ``max_set_members``: its members go into a HyperLogLog, which counts
        the rest of the interval's in a fixed 16 KiB."""
        del self._sets[key]
        self._estimated[key] = HyperLogLog.of(members, len(members))
        self.stats.sets_estimated += 1

    def flush(self, now_ms: int, seconds: float | None = None) -> list[Summary]:
        """The summaries of the interval that ends at ``now_ms`` (their ``time``); starts
        the next interval. Idle series are sent as zeros or deleted, gauges past their
        TTL deleted. Rates (``rate``, ``count_ps``) are per second of ``seconds``, by
        default the configured interval (statsd divides by its flushInterval whatever
        the interval lasted); a partial interval (SIGTERM) may say how long it was
        (a length that is not positive is ignored)."""
        options = self.options
        interval = seconds if seconds is not None and seconds > 0 else options.interval
        out: list[Summary] = []
        for key, total in self._counters.items():
            out.append(self._summary(key, "counter", now_ms, {"count": total, "rate": total / interval}))
        self._age("counter", self._counters, {"count": 0.0, "rate": 0.0}, now_ms, out)
        self._counters = {}
        percentiles, bins = options.percentiles, self._bins
        for key, timer in self._timers.items():
            out.append(
                self._summary(key, "timer", now_ms, _floats(timer_statistics(timer, interval, percentiles, bins)))
            )
        self._age("timer", self._timers, _IDLE_TIMER, now_ms, out)
        self._timers = {}
        for key, members in self._sets.items():
            out.append(self._summary(key, "set", now_ms, {"count": float(len(members))}))
        estimated = self._estimated
        for key, sketch in estimated.items():
            out.append(self._summary(key, "set", now_ms, {"count": float(sketch.count())}))
        self._age("set", {**self._sets, **estimated} if estimated else self._sets, {"count": 0.0}, now_ms, out)
        self._sets, self._estimated = {}, {}
        self._flush_gauges(now_ms, out)
        self.stats.flushes += 1
        self.stats.summaries += len(out)
        return out

    def _flush_gauges(self, now_ms: int, out: list[Summary]) -> None:
        ttl = self.options.gauge_ttl
        ttl_ms = None if ttl is None else ttl * 1000
        expired = []
        for key, gauge in self._gauges.items():
            if gauge.touched:
                gauge.touched = False
                gauge.flushed_ms = now_ms
            elif ttl_ms is not None and now_ms - gauge.flushed_ms >= ttl_ms:
                expired.append(key)
                continue
            out.append(self._summary(key, "gauge", now_ms, {"value": gauge.value}))
        for key in expired:
            del self._gauges[key]
        self._forget(len(expired))

    def _age(
        self, kind: Kind, active: dict[SeriesKey, Any], zeros: dict[str, float], now_ms: int, out: list[Summary]
    ) -> None:
        limit = self.options.idle_limit(kind)
        idle = dict.fromkeys(active, 0)
        deleted = 0
        for key, flushes in self._idle[kind].items():
            if limit is not None and flushes >= limit:
                deleted += 1
                continue
            out.append(self._summary(key, kind, now_ms, dict(zeros)))
            idle[key] = flushes + 1
        self._idle[kind] = idle
        self._forget(deleted)

    def _forget(self, deleted: int) -> None:
        self._series -= deleted
        self.stats.series_deleted += deleted

    @staticmethod
    def _summary(key: SeriesKey, kind: Kind, now_ms: int, statistics: dict[str, float]) -> Summary:
        if isinstance(key, str):
            summary: Summary = {"name": key, "time": now_ms, "kind": kind}
        else:
            summary = {"name": key[0], "time": now_ms, "kind": kind}
            summary.update(key[1])
        summary.update(statistics)
        return summary

    def _admit(self, name: str, events: int = 1) -> bool:
        """Room for one more series? Counts the refusal of its ``events`` by name when there is none."""
        if self._series >= self._max_series:
            dropped = self.stats.dropped
            dropped[name if name in dropped or len(dropped) < MAX_DROPPED_NAMES else OTHER_NAMES] += events
            return False
        self._series += 1
        self.stats.series_created += 1
        return True

    def _refuse(self, reason: str) -> bool:
        self.stats.not_aggregated[reason] += 1
        self.stats.passed += 1
        return False

    def _rule(self, name: str) -> Rule:
        rule = self._rules.get(name)
        if rule is None:
            if len(self._rules) >= _RULE_CACHE_SIZE:
                self._rules.clear()
            rule = self._rules[name] = self.options.rule_for(name) or _NO_RULE
        return rule

    def _key_name(self, field: str) -> str:
        name = self._key_names.get(field)
        if name is None:
            if len(self._key_names) >= _RULE_CACHE_SIZE:
                self._key_names.clear()
            name = self._key_names[field] = key_field_name(field)
        return name

    def _statsd_labels(self, event: Event) -> Labels:
        """The tags of a statsd event, sorted (tag order is no part of the key)."""
        labels = []
        key_names = self._key_names
        for field_name, value in event.items():
            if field_name not in STATSD_FIELDS:
                labels.append((key_names.get(field_name) or self._key_name(field_name), value))
        if not labels:
            return ()
        labels.sort()  # names are unique, so values are never compared
        return tuple(labels)

    def _rule_labels(self, event: Event, rule: Rule) -> Labels:
        labels = []
        for field_name in rule.key_fields:
            if field_name in event:
                labels.append((self._key_name(field_name), _hashable(event[field_name])))
        return tuple(sorted(labels))


def _name_of(key: SeriesKey) -> str:
    return key if isinstance(key, str) else key[0]


def _hashable(value: Any) -> Any:
    """A JSON value as a set member or key field: arrays and objects as their JSON text."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode() if value.__class__ in (list, dict) else value


def _floats(statistics: dict[str, float]) -> dict[str, float]:
    return {name: float(value) for name, value in statistics.items()}
