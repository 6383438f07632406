"""The aggregation core against a reference written here from statsd's documented
semantics, not from the core's code: arbitrary streams of statsd counters, timers,
gauges and sets, decoded by collector.wire's statsd decoder, across flush boundaries,
with idle series, gauge TTLs and the series bound. No sleeping: the flush time is handed in.

The reference computes in exact rationals (Fraction), so it owes nothing to an order of
float additions; the streams use values that floats hold exactly (multiples of 1/4) and
power-of-two sample rates, so the core's float sums must come out exact. The real Etsy
statsd checks the float-for-float agreement on arbitrary decimals
(test_aggregate_statsd.py).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.aggregate import AggregationOptions, Aggregator, GraphiteNaming, Rule, graphite_paths
from collector.wire import Batch, decoder_for

INTERVAL = 1.0
TAG_NAMES = {"env", "host", "canary", "sample_rate"}
KINDS = {"c": "counter", "ms": "timer", "g": "gauge", "s": "set"}


@dataclass(frozen=True)
class Op:
    """One statsd metric as the test means it."""

    type: str  # c, ms, g, s
    name: str
    tags: tuple[tuple[str, Any], ...]  # sorted
    value: Any
    rate: float | None = None
    delta: bool = False  # a gauge's +N / -N

    def line(self) -> str:
        if self.type == "s":
            text = self.value
        elif self.delta:
            text = ("-" if self.value < 0 else "+") + number(abs(self.value))
        else:
            text = number(self.value)
        rate = f"|@{self.rate}" if self.rate is not None else ""
        tags = "|#" + ",".join(k if v is True else f"{k}:{v}" for k, v in self.tags) if self.tags else ""
        return f"{self.name}:{text}|{self.type}{rate}{tags}"

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, Any], ...]]:
        return (KINDS[self.type], self.name, self.tags)


def number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def half_up(x: float) -> int:
    """JavaScript's Math.round, by the decimal module's rule rather than arithmetic."""
    return int(Decimal(x).to_integral_value(rounding=ROUND_HALF_UP))


def timer_reference(ops: list[Op], percentiles: tuple[float, ...], bins: tuple[float, ...]) -> dict[str, float]:
    """statsd's timer statistics, from their definitions (README of statsd, docs/metric_types.md)."""
    values = sorted(Fraction(op.value) for op in ops)
    n = len(values)
    total = sum(values, Fraction(0))
    out: dict[str, float] = {
        "count": float(sum((1 / Fraction(op.rate or 1) for op in ops), Fraction(0))),
        "lower": float(values[0]),
        "upper": float(values[-1]),
        "sum": float(total),
        "sum_squares": float(sum((v * v for v in values), Fraction(0))),
        "mean": float(total / n),
        "median": float(statistics.median(values)),
        "std": math.sqrt(statistics.pvariance(values)),
    }
    out["count_ps"] = out["count"] / INTERVAL
    for pct in percentiles:
        kept = 1 if n == 1 else half_up(abs(pct) / 100 * n)
        if kept == 0:
            continue
        chosen = values[:kept] if pct > 0 else values[n - kept :]
        name = (str(int(pct)) if float(pct).is_integer() else str(pct).replace(".", "_")).replace("-", "top")
        out[f"count_{name}"] = float(kept)
        out[f"sum_{name}"] = float(sum(chosen, Fraction(0)))
        out[f"sum_squares_{name}"] = float(sum((v * v for v in chosen), Fraction(0)))
        out[f"mean_{name}"] = float(sum(chosen, Fraction(0)) / kept)
        out[("upper_" if pct > 0 else "lower_") + name] = float(max(chosen) if pct > 0 else min(chosen))
    previous = -math.inf
    for bound in bins:
        name = "bin_" + ("inf" if math.isinf(bound) else number(bound).replace(".", "_"))
        out[name] = float(sum(1 for v in values if previous <= v < bound))
        previous = bound
    return out


class Reference:
    """What a statsd server with these options sends, flush after flush."""

    def __init__(self, options: AggregationOptions) -> None:
        self.options = options
        self.alive: set[tuple[str, str, tuple[tuple[str, Any], ...]]] = set()
        self.ops: dict[Any, list[Op]] = defaultdict(list)
        self.last_active: dict[Any, int] = {}
        self.gauges: dict[Any, Fraction] = {}
        self.gauge_seen_ms: dict[Any, int] = {}
        self.dropped: Counter[str] = Counter()

    def add(self, op: Op) -> None:
        if op.key not in self.alive:
            if len(self.alive) >= self.options.max_series:
                self.dropped[op.name] += 1
                return
            self.alive.add(op.key)
        self.ops[op.key].append(op)
        if op.type == "g":
            # a change moves the kept level (none kept: from 0), a plain value replaces it
            base = self.gauges.get(op.key, Fraction(0)) if op.delta else Fraction(0)
            self.gauges[op.key] = base + Fraction(op.value)

    def flush(self, index: int, now_ms: int) -> dict[Any, dict[str, float]]:
        out: dict[Any, dict[str, float]] = {}
        idle_limit = self.options.delete_idle_after
        ttl = self.options.gauge_ttl
        for key in sorted(self.alive, key=repr):
            kind, ops = key[0], self.ops.get(key, [])
            if kind == "gauge":
                if ops:
                    self.gauge_seen_ms[key] = now_ms
                elif ttl is not None and now_ms - self.gauge_seen_ms[key] >= ttl * 1000:
                    self.alive.discard(key)
                    del self.gauges[key]
                    continue
                out[key] = {"value": float(self.gauges[key])}
                continue
            if ops:
                self.last_active[key] = index
                out[key] = self.statistics(kind, ops)
            elif idle_limit is None or index - self.last_active[key] <= idle_limit:
                out[key] = {"count": 0.0, "count_ps": 0.0} if kind == "timer" else {"count": 0.0}
                if kind == "counter":
                    out[key]["rate"] = 0.0
            else:
                self.alive.discard(key)
        self.ops.clear()
        return out

    def statistics(self, kind: str, ops: list[Op]) -> dict[str, float]:
        if kind == "counter":
            count = float(sum((Fraction(op.value) / Fraction(op.rate or 1) for op in ops), Fraction(0)))
            return {"count": count, "rate": count / INTERVAL}
        if kind == "set":
            return {"count": float(len({op.value for op in ops}))}
        return timer_reference(ops, self.options.percentiles, self.options.histogram_bins)


def decoded(lines: list[str], now_ms: int = 0) -> list[dict[str, Any]]:
    batch = Batch()
    decoder_for("statsd").decode_payload("\n".join(lines).encode(), now_ms, batch)
    assert batch.rejections == []
    return batch.events


def keyed(summaries: list[dict[str, Any]], now_ms: int) -> dict[Any, dict[str, float]]:
    out = {}
    for summary in summaries:
        assert summary["time"] == now_ms
        tags = tuple(sorted((k, v) for k, v in summary.items() if k in TAG_NAMES))
        statistics_ = {k: v for k, v in summary.items() if k not in TAG_NAMES | {"name", "time", "kind"}}
        assert all(type(v) is float for v in statistics_.values()), summary
        key = (summary["kind"], summary["name"], tags)
        assert key not in out
        out[key] = statistics_
    return out


def assert_same(got: dict[Any, dict[str, float]], want: dict[Any, dict[str, float]]) -> None:
    assert got.keys() == want.keys()
    for key, stats in want.items():
        assert got[key].keys() == stats.keys(), key
        for name, value in stats.items():
            if name == "std":  # a square root of a rational: the last bits may differ
                assert math.isclose(got[key][name], value, rel_tol=1e-12, abs_tol=1e-12), (key, name)
            else:
                assert got[key][name] == value, (key, name, got[key][name], value)


# -- the streams ---------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b.c", "d"])
TAGS = st.sampled_from([(), (("env", "prod"),), (("canary", True), ("env", "dev")), (("host", "h1"),)])
QUARTERS = st.integers(-4000, 4000).map(lambda i: i / 4)
RATES = st.sampled_from([None, None, 0.5, 0.25, 0.125])


@st.composite
def ops(draw: st.DrawFn) -> Op:
    kind = draw(st.sampled_from(["c", "ms", "g", "s"]))
    name, tags = draw(NAMES), draw(TAGS)
    if kind == "c":
        return Op("c", name, tags, draw(QUARTERS), draw(RATES))
    if kind == "ms":
        return Op("ms", name, tags, abs(draw(QUARTERS)), draw(RATES))
    if kind == "g":
        delta = draw(st.booleans())
        value = draw(QUARTERS)
        return Op("g", name, tags, value if delta else abs(value), delta=delta)
    return Op("s", name, tags, draw(st.sampled_from(["u1", "u2", "u3", "42", "4.0", "4"])))


OPTIONS = st.builds(
    AggregationOptions,
    name=st.just("agg"),
    interval=st.just(INTERVAL),
    percentiles=st.lists(
        st.sampled_from([50, 90, 99, 99.5, 75, 1, 100, -5, -10, -50, -100]), unique=True, max_size=4
    ).map(tuple),
    histogram_bins=st.sampled_from([(), (10, 100), (0.5, 50, math.inf)]),
    max_series=st.integers(1, 14),
    delete_idle_after=st.sampled_from([0, 1, 2, None]),
    gauge_ttl=st.sampled_from([None, 0, 1.0, 2.5]),
)


#: An interval: metrics of many series, and a burst of one timer's samples (percentiles
#: need more than the odd sample a series gets among the rest).
INTERVALS = st.lists(
    st.tuples(
        st.lists(ops(), max_size=25),
        st.lists(st.builds(Op, st.just("ms"), NAMES, st.just(()), QUARTERS.map(abs), RATES), max_size=40),
    ).map(lambda mixed: mixed[0] + mixed[1]),
    min_size=1,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(OPTIONS, INTERVALS)
def test_every_summary_equals_the_reference(options: AggregationOptions, intervals: list[list[Op]]) -> None:
    aggregator, reference = Aggregator(options), Reference(options)
    for index, interval_ops in enumerate(intervals):
        for op, event in zip(interval_ops, decoded([op.line() for op in interval_ops]), strict=True):
            reference.add(op)
            assert aggregator.add(event) is True
        now_ms = (index + 1) * 1000
        assert_same(keyed(aggregator.flush(now_ms), now_ms), reference.flush(index, now_ms))
        assert aggregator.series == len(reference.alive)
    assert aggregator.stats.dropped == reference.dropped


# -- written-out cases -----------------------------------------------------------------


def run(options: AggregationOptions, *intervals: list[str]) -> list[dict[Any, dict[str, float]]]:
    aggregator = Aggregator(options)
    flushes = []
    for index, lines in enumerate(intervals):
        for event in decoded(lines):
            aggregator.add(event)
        flushes.append(keyed(aggregator.flush((index + 1) * 1000), (index + 1) * 1000))
    return flushes


def test_a_counter_sums_value_over_sample_rate_and_rates_per_second() -> None:
    options = AggregationOptions("a", interval=10.0)
    [flush] = run(options, ["hits:1|c", "hits:2|c|@0.1", "hits:3|c|#env:prod"])
    assert flush[("counter", "hits", ())] == {"count": 1 + 2 * (1 / 0.1), "rate": (1 + 2 * (1 / 0.1)) / 10}
    assert flush[("counter", "hits", (("env", "prod"),))] == {"count": 3.0, "rate": 0.3}


def test_tags_in_any_order_are_one_series_and_the_rate_is_none_of_the_key() -> None:
    [flush] = run(AggregationOptions("a"), ["x:1|c|#env:a,host:h", "x:1|c|@0.5|#host:h,env:a", "x,env=a,host=h:1|c"])
    assert list(flush) == [("counter", "x", (("env", "a"), ("host", "h")))]
    assert flush[("counter", "x", (("env", "a"), ("host", "h")))]["count"] == 4.0


def test_the_sample_rate_in_the_key_makes_a_series_per_rate() -> None:
    options = AggregationOptions("a", sample_rate_in_key=True)
    lines = ["x:1|c", "x:1|c|@0.5", "x:3|c|@0.5|#env:a", "x:1|c|@1", "t:4|ms|@0.25"]
    [flush] = run(options, lines)
    assert {key: stats["count"] for key, stats in flush.items()} == {
        ("counter", "x", ()): 1.0,
        ("counter", "x", (("sample_rate", 0.5),)): 2.0,
        ("counter", "x", (("env", "a"), ("sample_rate", 0.5))): 6.0,
        ("counter", "x", (("sample_rate", 1),)): 1.0,
        ("timer", "t", (("sample_rate", 0.25),)): 4.0,
    }


def test_statsd_percentiles_top_n_and_rounding() -> None:
    options = AggregationOptions("a", percentiles=(90, 50, -5, -20, 0.5))
    samples = [f"t:{v}|ms" for v in range(1, 11)]  # 1..10
    [flush] = run(options, samples)
    stats = flush[("timer", "t", ())]
    assert (stats["count_90"], stats["upper_90"], stats["sum_90"], stats["mean_90"]) == (9, 9, 45, 5)
    assert (stats["count_50"], stats["upper_50"]) == (5, 5)
    assert stats["count_top5"] == 1  # round(0.05 * 10) = round(0.5) = 1 in JavaScript...
    assert stats["count_top20"] == 2
    assert stats["lower_top20"] == 9
    assert stats["sum_top20"] == 19
    assert "count_0_5" not in stats  # ...but round(0.005 * 10) = 0: left out, as statsd does
    assert stats["median"] == 5.5
    assert stats["std"] == math.sqrt(8.25)


def test_one_sample_is_every_percentile() -> None:
    [flush] = run(AggregationOptions("a", percentiles=(90, -5)), ["t:7|ms"])
    stats = flush[("timer", "t", ())]
    assert stats["upper_90"] == stats["lower_top5"] == stats["median"] == 7
    assert stats["count_90"] == stats["count_top5"] == 1


def test_histograms_and_distributions_are_timers_with_bins() -> None:
    options = AggregationOptions("a", percentiles=(), histogram_bins=(1, 10, math.inf))
    [flush] = run(options, ["h:0.5|h", "h:5|h", "h:50|h", "d:1:2:3|d"])
    assert flush[("timer", "h", ())]["bin_1"] == 1
    assert flush[("timer", "h", ())]["bin_10"] == 1
    assert flush[("timer", "h", ())]["bin_inf"] == 1
    assert flush[("timer", "d", ())]["count"] == 3


def test_gauges_keep_their_level_take_deltas_and_a_negative_level_in_two_lines() -> None:
    options = AggregationOptions("a")
    flushes = run(options, ["g:10|g", "g:+5|g"], [], ["g:-3|g"], ["g:0|g", "g:-7|g"], ["new:-2|g"])
    assert [f[("gauge", "g", ())]["value"] for f in flushes] == [15, 15, 12, -7, -7]
    assert flushes[-1][("gauge", "new", ())] == {"value": -2}  # a change to no gauge starts from 0


def test_a_gauge_rule_sets_a_negative_level_directly() -> None:
    aggregator = Aggregator(AggregationOptions("a", rules=(Rule("temp.*", "gauge", ("room",)),)))
    for event in (
        {"name": "temp.c", "value": 5, "time": 1, "room": "a"},
        {"name": "temp.c", "value": -4, "time": 1, "room": "a"},
        {"name": "temp.c", "value": -1, "time": 1, "room": "a", "gauge_delta": True},
    ):
        assert aggregator.add(event) is True
    assert aggregator.flush(1000) == [{"name": "temp.c", "time": 1000, "kind": "gauge", "room": "a", "value": -5.0}]


def test_gauge_ttl_in_seconds() -> None:
    options = AggregationOptions("a", interval=1.0, gauge_ttl=2.0)
    flushes = run(options, ["g:1|g"], [], [], ["g:+1|g"])
    assert [("gauge", "g", ()) in f for f in flushes] == [True, True, False, True]
    assert flushes[-1][("gauge", "g", ())]["value"] == 1  # deleted, so the change started from 0


@pytest.mark.parametrize(("after", "sent"), [(0, [True, False, False]), (1, [True, True, False]), (None, [True] * 3)])
def test_idle_series_are_sent_as_zeros_then_deleted(after: int | None, sent: list[bool]) -> None:
    flushes = run(AggregationOptions("a", delete_idle_after=after), ["c:1|c", "t:1|ms", "s:x|s"], [], [])
    for key in [("counter", "c", ()), ("timer", "t", ()), ("set", "s", ())]:
        assert [key in flush for flush in flushes] == sent
    if after != 0:
        assert flushes[1][("counter", "c", ())] == {"count": 0.0, "rate": 0.0}
        assert flushes[1][("timer", "t", ())] == {"count": 0.0, "count_ps": 0.0}
        assert flushes[1][("set", "s", ())] == {"count": 0.0}


def test_idle_limits_per_kind() -> None:
    options = AggregationOptions("a", delete_idle_after=0, delete_idle_after_by_kind=(("counter", None),))
    flushes = run(options, ["c:1|c", "t:1|ms"], [], [])
    assert [("counter", "c", ()) in f for f in flushes] == [True, True, True]
    assert [("timer", "t", ()) in f for f in flushes] == [True, False, False]


def test_the_series_bound_drops_new_series_and_counts_them_by_name() -> None:
    aggregator = Aggregator(AggregationOptions("a", max_series=2))
    for event in decoded(["a:1|c", "b:1|ms", "c:1|c", "c:2|c", "d:1|s", "a:1|c|#env:x", "a:5|c"]):
        assert aggregator.add(event) is True  # taken: a dropped event must not flood on raw
    assert aggregator.series == 2
    assert aggregator.stats.dropped == {"c": 2, "d": 1, "a": 1}
    assert keyed(aggregator.flush(1000), 1000).keys() == {("counter", "a", ()), ("timer", "b", ())}
    aggregator.add(decoded(["c:1|c"])[0])  # the idle ones are deleted at the next flush, not yet
    assert aggregator.stats.dropped["c"] == 3
    aggregator.flush(2000)
    aggregator.flush(3000)
    assert aggregator.series == 0
    assert aggregator.add(decoded(["c:1|c"])[0]) is True
    assert aggregator.series == 1
    assert aggregator.stats.dropped["c"] == 3


def test_events_and_service_checks_pass_through() -> None:
    aggregator = Aggregator(AggregationOptions("a"))
    events = decoded(["_e{5,4}:title|text", "_sc|check|2|m:down"])
    assert [aggregator.add(event) for event in events] == [False, False]
    assert aggregator.flush(1000) == []
    assert aggregator.stats.passed == 2


def test_rules_match_names_by_glob_and_key_fields_make_the_series() -> None:
    rules = (
        Rule("web.*.latency", "timer", ("host",)),
        Rule("web.*", "counter"),
        Rule("users", "set", ("site",)),
        Rule("raw.*", "pass"),
    )
    aggregator = Aggregator(AggregationOptions("a", rules=rules, percentiles=(90,)))
    taken = [
        aggregator.add(event)
        for event in (
            {"name": "web.a.latency", "value": 5, "time": 1, "host": "h1", "path": "/x"},
            {"name": "web.a.latency", "value": 7, "time": 1, "host": "h1", "path": "/y"},
            {"name": "web.hits", "value": 3, "time": 1, "host": "h2"},
            {"name": "users", "value": "alice", "time": 1, "site": "s"},
            {"name": "users", "value": "alice", "time": 1, "site": "s"},
            {"name": "users", "value": ["a", 1], "time": 1},
            {"name": "raw.x", "value": 1, "time": 1},
            {"name": "other", "value": 1, "time": 1},
            {"name": "web.text", "value": "high", "time": 1},
        )
    ]
    assert taken == [True, True, True, True, True, True, False, False, False]
    assert aggregator.stats.not_aggregated == {"value is not a number": 1}
    summaries = {(s["name"], s.get("host"), s.get("site")): s for s in aggregator.flush(1000)}
    assert summaries["web.a.latency", "h1", None]["count"] == 2
    assert "path" not in summaries["web.a.latency", "h1", None]
    assert summaries["web.hits", None, None]["count"] == 3  # host is no key field of this rule
    assert summaries["users", None, "s"]["count"] == 1
    assert summaries["users", None, None]["count"] == 1


def test_a_key_field_named_like_a_statistic_is_renamed() -> None:
    aggregator = Aggregator(AggregationOptions("a"))
    aggregator.add(decoded(["x:1|c|#count:5,kind:k,upper_90:u,key_x:y"])[0])
    [summary] = aggregator.flush(1000)
    assert summary == {
        "name": "x",
        "time": 1000,
        "kind": "counter",
        "key_count": "5",
        "key_key_x": "y",
        "key_kind": "k",
        "key_upper_90": "u",
        "count": 1.0,
        "rate": 0.1,
    }


def test_a_numbat_event_dressed_as_statsd_is_refused_not_raised() -> None:
    aggregator = Aggregator(AggregationOptions("a"))
    for event in (
        {"name": "x", "value": "many", "time": 1, "statsd_type": "c"},
        {"name": "x", "value": 1, "time": 1, "statsd_type": "c", "rate": 0},
        {"name": "x", "value": 1, "time": 1, "statsd_type": "c", "tag": [1]},
    ):
        assert aggregator.add(event) is False
    assert aggregator.stats.not_aggregated == {"not a statsd metric": 3}


def test_reconfigure_keeps_the_series() -> None:
    aggregator = Aggregator(AggregationOptions("a"))
    for event in decoded(["c:1|c", "g:4|g"]):
        aggregator.add(event)
    aggregator.reconfigure(AggregationOptions("a", interval=2.0))
    aggregator.add(decoded(["c:1|c"])[0])
    assert keyed(aggregator.flush(1000), 1000) == {
        ("counter", "c", ()): {"count": 2.0, "rate": 1.0},
        ("gauge", "g", ()): {"value": 4.0},
    }


@pytest.mark.parametrize(
    "options",
    [
        {"interval": 0},
        {"percentiles": (0,)},
        {"percentiles": (101,)},
        {"percentiles": (90, 90)},
        {"histogram_bins": (10, 5)},
        {"max_series": 0},
        {"max_samples": 0},
        {"max_set_members": 0},
        {"delete_idle_after": -1},
        {"delete_idle_after_by_kind": (("gauge", 1),)},
        {"gauge_ttl": -1.0},
    ],
)
def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        AggregationOptions("a", **options)


def test_a_rule_of_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="rule kind"):
        Rule("x", "histogram")  # type: ignore[arg-type]


# -- Graphite paths (the real statsd checks the layouts: test_aggregate_statsd.py) -----


def test_graphite_paths_clean_names_and_write_tags_as_statsd_does() -> None:
    summary = {
        "name": "api v2/users$",
        "time": 1,
        "kind": "gauge",
        "canary": True,
        "code": 200,
        "env": "a b",
        "value": 3.0,
    }
    assert graphite_paths(summary) == [("stats.gauges.api_v2-users;canary;code=200;env=a_b", 3.0)]
    raw = GraphiteNaming(sanitize=False)
    assert graphite_paths(summary, raw) == [("stats.gauges.api v2/users$;canary;code=200;env=a b", 3.0)]


def test_graphite_paths_of_a_counter_without_its_count() -> None:
    summary = {"name": "x", "time": 1, "kind": "counter", "count": 10.0, "rate": 1.0}
    assert graphite_paths(summary, GraphiteNaming(flush_counts=False)) == [("stats.counters.x.rate", 1.0)]
    legacy = GraphiteNaming(legacy_namespace=True, flush_counts=False)
    assert graphite_paths(summary, legacy) == [("stats.x", 1.0)]


def test_graphite_paths_of_a_timer_put_bins_under_histogram() -> None:
    aggregator = Aggregator(AggregationOptions("a", percentiles=(90, -5), histogram_bins=(0.5, math.inf)))
    aggregator.add(decoded(["t:0.25|ms|#env:x"])[0])
    [summary] = aggregator.flush(1000)
    paths = dict(graphite_paths(summary))
    assert paths["stats.timers.t.histogram.bin_0_5;env=x"] == 1
    assert paths["stats.timers.t.histogram.bin_inf;env=x"] == 0
    assert paths["stats.timers.t.upper_90;env=x"] == paths["stats.timers.t.lower_top5;env=x"] == 0.25
    assert len(paths) == 2 * 5 + 9 + 2


def test_a_partial_interval_may_say_how_long_it_was() -> None:
    aggregator = Aggregator(AggregationOptions("a", interval=10.0))
    for event in decoded(["c:6|c", "t:1|ms", "t:2|ms"]):
        aggregator.add(event)
    summaries = {s["kind"]: s for s in aggregator.flush(1000, seconds=2.0)}
    assert summaries["counter"]["rate"] == 3.0
    assert summaries["timer"]["count_ps"] == 1.0
