"""The aggregation stage on trio's MockClock: flushes on wall-clock multiples of the
interval, reloads that keep what was aggregated (or flush it first when the options
changed), a stop that flushes the partial interval, and the router's wiring: raw sinks
get every event, a sink whose input is an aggregation gets its summaries."""

from __future__ import annotations

import itertools
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import trio
import trio.testing

from collector.aggregate import AggregationOptions, Rule
from collector.aggregate._stage import AggregationStage, next_boundary_ms, options_of
from collector.config import AggregationConfig, RuleConfig, SinkOptions, parse_config
from collector.observe import SelfMetrics
from collector.router import Router
from collector.sinks import SINK_TYPES, Sink, SinkType
from collector.wire import Batch, decoder_for

#: The wall clock at trio's time 0: 3.25 s into a 10 s interval (1_700_000_000 is a multiple of 10).
EPOCH = 1_700_000_003.25
FIRST_BOUNDARY_MS = 1_700_000_010_000


def wall() -> float:
    return EPOCH + trio.current_time()


def statsd(*lines: bytes) -> Batch:
    batch = Batch()
    decoder_for("statsd").decode(lines, int(wall() * 1000), batch)
    assert not batch.rejections
    return batch


def numbat(*events: dict[str, Any]) -> Batch:
    batch = Batch()
    for event in events:
        batch.add({"time": int(wall() * 1000), "value": 1, **event})
    return batch


@dataclass
class Flush:
    aggregation: str
    at: float  #: trio's time when it was delivered
    summaries: list[dict[str, Any]]

    def of(self, name: str) -> dict[str, Any]:
        (summary,) = [s for s in self.summaries if s["name"] == name]
        return summary


class Recorder:
    """A stage's ``deliver``: every flush, as it came."""

    def __init__(self) -> None:
        self.flushes: list[Flush] = []

    async def __call__(self, aggregation: str, batch: Batch) -> None:
        self.flushes.append(Flush(aggregation, trio.current_time(), list(batch.events)))


def run(scenario: Any) -> None:
    trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))


def ten_seconds(**options: Any) -> AggregationConfig:
    return AggregationConfig(name="10s", interval=10, **options)


def test_flushes_align_to_wall_clock_multiples_of_the_interval() -> None:
    recorder, metrics = Recorder(), SelfMetrics()

    async def scenario() -> None:
        stage = AggregationStage(metrics, recorder, clock=wall)
        async with trio.open_nursery() as nursery:
            await nursery.start(stage.run)
            stage.start([ten_seconds(), AggregationConfig(name="3s", interval=3)])
            stage.add(statsd(b"hits:1|c", b"hits:2|c", b"lat:10|ms", b"lat:30|ms"))
            await trio.sleep(10)  # past the 10 s boundary at trio time 6.75
            stage.add(statsd(b"hits:5|c|@0.5"))
            await trio.sleep(10)
            nursery.cancel_scope.cancel()

    run(scenario)
    ten = [flush for flush in recorder.flushes if flush.aggregation == "10s"]
    assert [flush.at for flush in ten] == [6.75, 16.75]  # on the boundary, not 10 s after the start
    first, second = ten
    assert {s["time"] for s in first.summaries} == {FIRST_BOUNDARY_MS}
    hits = first.of("hits")
    # the first interval began with the aggregation, 6.75 s before its boundary: rates are per second of that
    assert (hits["kind"], hits["count"], hits["rate"]) == ("counter", 3, 3 / 6.75)
    lat = first.of("lat")
    assert (lat["kind"], lat["count"], lat["lower"], lat["upper"], lat["mean"]) == ("timer", 2, 10, 30, 20)
    assert (second.of("hits")["count"], second.of("hits")["rate"]) == (10, 1)  # 5 sampled at 0.5, over 10 s
    assert second.of("hits")["time"] == FIRST_BOUNDARY_MS + 10_000
    three = [flush for flush in recorder.flushes if flush.aggregation == "3s"]
    # 1_700_000_003.25 + t is a multiple of 3 s at t = 0.75, 3.75, ...
    assert [flush.at for flush in three] == [0.75 + 3 * i for i in range(len(three))]
    assert all(s["time"] % 3_000 == 0 for flush in three for s in flush.summaries)
    assert metrics.values(metrics.aggregated, aggregation="10s") == {"": 5}
    assert metrics.values(metrics.summaries, aggregation="10s") == {"": 3}


def test_the_next_boundary_is_the_next_multiple() -> None:
    assert next_boundary_ms(0, 10_000) == 10_000
    assert next_boundary_ms(9_999, 10_000) == 10_000
    assert next_boundary_ms(10_000, 10_000) == 20_000  # a boundary reached is flushed, the next is due
    assert next_boundary_ms(1_700_000_003_250, 1_500) == 1_700_000_004_000


def test_only_statsd_events_and_events_a_rule_matches_are_aggregated() -> None:
    recorder, metrics = Recorder(), SelfMetrics()
    rules = (RuleConfig("web.debug.*", "pass"), RuleConfig("web.*.latency", "timer", ("host",)))  # the first decides

    async def scenario() -> None:
        stage = AggregationStage(metrics, recorder, clock=wall)
        async with trio.open_nursery() as nursery:
            await nursery.start(stage.run)
            stage.start([ten_seconds(rules=rules)])
            stage.add(numbat({"name": "web.a.latency", "value": 5, "host": "h1", "route": "/x"}))
            stage.add(numbat({"name": "web.a.latency", "value": 7, "host": "h2"}))
            stage.add(numbat({"name": "web.debug.latency", "value": 7}, {"name": "other", "value": 3}))
            await trio.sleep(7)
            nursery.cancel_scope.cancel()

    run(scenario)
    (flush,) = recorder.flushes
    by_host = {s["host"]: s for s in flush.summaries}
    assert sorted(by_host) == ["h1", "h2"]
    assert all(s["name"] == "web.a.latency" and s["kind"] == "timer" for s in flush.summaries)
    assert (by_host["h1"]["upper"], by_host["h2"]["upper"]) == (5, 7)
    assert "route" not in by_host["h1"]  # not a key field: not part of the summary
    assert metrics.values(metrics.aggregated, aggregation="10s") == {"": 2}


def test_a_reload_with_the_same_options_keeps_what_was_aggregated() -> None:
    recorder = Recorder()

    async def scenario() -> None:
        stage = AggregationStage(SelfMetrics(), recorder, clock=wall)
        async with trio.open_nursery() as nursery:
            await nursery.start(stage.run)
            stage.start([ten_seconds()])
            kept = stage.aggregations["10s"]
            stage.add(statsd(b"hits:4|c", b"level:7|g"))
            await trio.sleep(2)
            await stage.reconfigure([ten_seconds(), AggregationConfig(name="other")])
            assert stage.aggregations["10s"] is kept
            assert recorder.flushes == []  # nothing flushed by the reload
            stage.add(statsd(b"hits:1|c", b"level:+1|g"))
            await trio.sleep(5)
            nursery.cancel_scope.cancel()

    run(scenario)
    (flush,) = [flush for flush in recorder.flushes if flush.aggregation == "10s"]
    assert flush.at == 6.75
    assert flush.of("hits")["count"] == 5
    assert flush.of("level")["value"] == 8


def test_a_reload_that_changes_the_options_flushes_the_old_aggregation_first() -> None:
    recorder = Recorder()

    async def scenario() -> None:
        stage = AggregationStage(SelfMetrics(), recorder, clock=wall)
        async with trio.open_nursery() as nursery:
            await nursery.start(stage.run)
            stage.start([ten_seconds(), AggregationConfig(name="gone")])
            stage.add(statsd(b"hits:4|c", b"level:7|g"))
            await trio.sleep(2)
            await stage.reconfigure([ten_seconds(percentiles=(95.0,))])
            assert sorted(stage.aggregations) == ["10s"]
            stage.add(statsd(b"hits:1|c", b"lat:3|ms"))
            await trio.sleep(5)
            await stage.reconfigure([AggregationConfig(name="10s", interval=4)])  # at 7: flushes, then every 4 s
            await trio.sleep(10)
            nursery.cancel_scope.cancel()

    run(scenario)
    at_reload = [flush for flush in recorder.flushes if flush.at == 2]
    assert sorted(flush.aggregation for flush in at_reload) == ["10s", "gone"]
    for flush in at_reload:  # each stamped with the moment of the reload
        assert flush.of("hits")["count"] == 4
        assert flush.of("hits")["time"] == int((EPOCH + 2) * 1000)
    (after,) = [flush for flush in recorder.flushes if flush.at == 6.75]
    assert after.of("hits")["count"] == 1  # what came after the reload's flush
    assert after.of("level")["value"] == 7  # a gauge is kept through new options
    assert "upper_95" in after.of("lat")
    assert "upper_90" not in after.of("lat")
    # the second reload, at 7 (wall 1_700_000_010.25), flushes; then 4 s multiples: wall ..12, ..16
    assert [flush.at for flush in recorder.flushes if flush.at > 6.75] == [7, 8.75, 12.75, 16.75]
    assert [flush.summaries[0]["time"] % 4_000 for flush in recorder.flushes if flush.at > 7] == [0, 0, 0]


def test_a_stop_flushes_the_partial_interval_and_ends_the_flush_tasks() -> None:
    recorder = Recorder()

    async def scenario() -> None:
        stage = AggregationStage(SelfMetrics(), recorder, clock=wall)
        async with trio.open_nursery() as nursery:
            await nursery.start(stage.run)
            stage.start([ten_seconds()])
            stage.add(statsd(b"hits:4|c"))
            await trio.sleep(8)  # one flush at 6.75
            stage.add(statsd(b"hits:2|c", b"users:a|s", b"users:b|s", b"users:a|s"))
            await trio.sleep(1)
            aggregation = stage.aggregations["10s"]
            await stage.stop()
            assert aggregation.done.is_set()
            assert stage.aggregations == {}
            stage.add(statsd(b"hits:100|c"))  # after the stop nothing aggregates
            await trio.sleep(30)
            nursery.cancel_scope.cancel()

    run(scenario)
    assert [flush.at for flush in recorder.flushes] == [6.75, 9]
    last = recorder.flushes[-1]
    assert (last.of("hits")["count"], last.of("hits")["rate"]) == (2, 2 / 2.25)  # 2.25 s since the last flush
    assert last.of("hits")["time"] == int((EPOCH + 9) * 1000)
    assert last.of("users")["count"] == 2


@dataclass(frozen=True)
class MemoryOptions(SinkOptions):
    pass


class MemorySink(Sink[MemoryOptions]):
    """Test-only: what each sink wrote, by its name, with trio's time."""

    kind = "memory"
    Options = MemoryOptions
    written: ClassVar[dict[str, list[tuple[float, dict[str, Any]]]]] = {}

    async def write(self, batch: Batch) -> None:
        self.written.setdefault(self.name, []).extend((trio.current_time(), event) for event in batch.events)


TYPES = {**SINK_TYPES, "memory": SinkType.of(MemorySink)}
PIPELINE = """
[[listeners]]
url = "udp://127.0.0.1:1"
[[aggregations]]
name = "10s"
interval = 10
[[sinks]]
type = "memory"
name = "archive"
[[sinks]]
type = "memory"
name = "summaries"
input = "10s"
[[sinks]]
type = "memory"
name = "hits only"
input = "10s"
include = ["hits"]
"""


def test_the_router_sends_raw_events_and_summaries_each_to_the_sinks_that_take_them(tmp_path: Path) -> None:
    MemorySink.written.clear()
    config = parse_config({**tomllib.loads(PIPELINE), "state_dir": str(tmp_path)}, TYPES)

    async def scenario() -> None:
        router = Router(SelfMetrics(), sink_types=TYPES, clock=wall)
        async with trio.open_nursery() as nursery:
            await nursery.start(router.run)
            await router.start(config)
            await router.publish(statsd(b"hits:1|c", b"misses:1|c"))
            await router.publish(numbat({"name": "app.started"}))
            await trio.sleep(10)
            await router.publish(statsd(b"hits:2|c"))
            await trio.sleep(1)
            await router.stop(5)  # the partial interval is flushed, then the sinks drain
            nursery.cancel_scope.cancel()

    run(scenario)
    written = MemorySink.written
    assert [event["name"] for _, event in written["archive"]] == ["hits", "misses", "app.started", "hits"]
    assert all("kind" not in event for _, event in written["archive"])
    summaries = [(event["name"], event["count"], event["time"]) for _, event in written["summaries"]]
    stop_ms = int((EPOCH + 11) * 1000)
    assert summaries == [("hits", 1, FIRST_BOUNDARY_MS), ("misses", 1, FIRST_BOUNDARY_MS), ("hits", 2, stop_ms)]
    assert [(event["name"], event["count"]) for _, event in written["hits only"]] == [("hits", 1), ("hits", 2)]


@pytest.mark.parametrize("interval", [0.25, 1, 7, 60])
def test_flush_times_are_multiples_of_any_interval(interval: float) -> None:
    recorder = Recorder()

    async def scenario() -> None:
        stage = AggregationStage(SelfMetrics(), recorder, clock=wall)
        async with trio.open_nursery() as nursery:
            await nursery.start(stage.run)
            stage.start([AggregationConfig(name="x", interval=interval)])
            for _ in range(5):
                stage.add(statsd(b"hits:1|c"))
                await trio.sleep(interval)
            nursery.cancel_scope.cancel()

    run(scenario)
    interval_ms = round(interval * 1000)
    stamps = [flush.summaries[0]["time"] for flush in recorder.flushes if flush.summaries]
    assert len(stamps) >= 4
    assert all(stamp % interval_ms == 0 for stamp in stamps)
    assert all(b - a == interval_ms for a, b in itertools.pairwise(stamps))
    for flush in recorder.flushes:  # each delivered at its boundary
        assert flush.at == pytest.approx(flush.summaries[0]["time"] / 1000 - EPOCH) if flush.summaries else True


def test_the_tables_defaults_are_the_cores_and_every_key_reaches_it() -> None:
    assert options_of(AggregationConfig(name="x")) == AggregationOptions(name="x")
    config = AggregationConfig(
        name="x",
        interval=2.5,
        percentiles=(90.0, -5.0),
        histogram_bins=(1.0, "inf"),
        max_series=7,
        max_samples=3,
        max_set_members=4,
        delete_idle_after="never",
        delete_idle_after_by_kind={"timer": 2, "set": "never"},
        gauge_ttl=60.0,
        rules=(RuleConfig("a.*", "set", ("host",)),),
    )
    assert options_of(config) == AggregationOptions(
        name="x",
        interval=2.5,
        percentiles=(90.0, -5.0),
        histogram_bins=(1.0, math.inf),
        max_series=7,
        max_samples=3,
        max_set_members=4,
        delete_idle_after=None,
        delete_idle_after_by_kind=(("set", None), ("timer", 2)),
        gauge_ttl=60.0,
        rules=(Rule("a.*", "set", ("host",)),),
    )
