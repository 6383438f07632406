"""The sink runner with real sinks: an event a sink cannot encode costs that event alone."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import trio

from collector.config import Limits, ListenerConfig, SinkConfig, parse_config
from collector.listeners import Intake
from collector.observe import FloodGate, SelfMetrics, SinkStats
from collector.router import Router, SinkQueue, SinkRunner
from collector.sinks import SINK_TYPES, ForwardOptions, JsonlOptions
from collector.wire import FORMATS, Batch, decoder_for

from ..emitter.receivers import StreamReceiver
from ..waiting import wait_for

BAD = (7, 50, 51, 99)  # events that carry what orjson cannot write (an int past 64 bits, a set)


def mixed_batch(count: int = 100) -> Batch:
    """``count`` events from two listeners; those at BAD cannot be encoded."""
    batch = Batch(origins=[(0, "udp://a"), (60, "tcp://b")])
    for i in range(count):
        event = {"name": "m", "value": i, "time": 1_700_000_000_000}
        if i in BAD:
            event["oops"] = 2**70 if i % 2 else {1, 2}
            batch.add(event)
        else:
            batch.add(event, orjson.dumps(event) if i % 3 else None)
    return batch


async def run_one_batch(config: SinkConfig, batch: Batch, metrics: SelfMetrics, tmp_path: Path) -> None:
    sink = SINK_TYPES[config.type].sink(config, SinkStats(metrics, config.name, config.type), tmp_path / "state")
    queue = SinkQueue(10_000, "drop_oldest")
    runner = await SinkRunner.open(sink, queue, metrics)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(runner.run)
        await queue.put(batch)
        await runner.stop(10)


def skipped(metrics: SelfMetrics, sink: str) -> dict[str, float]:
    return metrics.values(metrics.skipped, "reason", sink=sink)


def test_jsonl_drops_only_the_events_it_cannot_encode(tmp_path, caplog) -> None:
    out = tmp_path / "out.jsonl"
    config = SinkConfig(type="jsonl", options=JsonlOptions(path=str(out), fsync="never"))
    metrics = SelfMetrics()
    with caplog.at_level(logging.WARNING, logger="numbatd"):
        trio.run(run_one_batch, config, mixed_batch(), metrics, tmp_path)
    values = [orjson.loads(line)["value"] for line in out.read_bytes().splitlines()]
    assert values == [i for i in range(100) if i not in BAD]
    assert skipped(metrics, "jsonl") == {"unwritable": len(BAD)}
    assert metrics.values(metrics.written, sink="jsonl") == {"": 100 - len(BAD)}
    dropped = [r for r in caplog.records if r.getMessage() == "event dropped: the sink cannot write it"]
    assert [r.listener for r in dropped] == ["udp://a", "udp://a", "udp://a", "tcp://b"]  # type: ignore[attr-defined]
    for record, index in zip(dropped, BAD, strict=True):
        assert record.sink == "jsonl"  # type: ignore[attr-defined]
        assert record.event.startswith(f"{{'name': 'm', 'value': {index},")  # type: ignore[attr-defined]


def test_forward_drops_only_the_events_it_cannot_encode(tmp_path) -> None:
    peer = StreamReceiver().start()
    try:
        config = SinkConfig(type="forward", options=ForwardOptions(url=peer.uri))
        metrics = SelfMetrics()
        trio.run(run_one_batch, config, mixed_batch(), metrics, tmp_path)
        assert wait_for(lambda: len(peer.lines) >= 100 - len(BAD))
        assert [e["value"] for e in peer.events] == [i for i in range(100) if i not in BAD]
        assert skipped(metrics, "forward") == {"unwritable": len(BAD)}
    finally:
        peer.stop()


def test_a_failing_destination_loses_its_batch_and_says_whose_it_was(tmp_path, caplog) -> None:
    out = tmp_path / "a-directory"
    out.mkdir()
    config = SinkConfig(type="jsonl", options=JsonlOptions(path=str(out / "x.jsonl"), fsync="never"))
    metrics = SelfMetrics()
    batch = Batch(origins=[(0, "udp://a"), (1, "tcp://b")])
    batch.add({"name": "first", "value": 1, "time": 1}, b'{"name":"first","value":1,"time":1}')
    batch.add({"name": "second", "value": 1, "time": 1})

    async def main() -> None:
        sink = SINK_TYPES["jsonl"].sink(config, SinkStats(metrics, "jsonl", "jsonl"), tmp_path)
        queue = SinkQueue(10, "drop_oldest")
        runner = await SinkRunner.open(sink, queue, metrics)
        (out / "x.jsonl").unlink()
        (out / "x.jsonl").mkdir()  # the file's place taken: every write fails
        sink._file._file = None  # type: ignore[attr-defined]  # reopen at the next write
        async with trio.open_nursery() as nursery:
            nursery.start_soon(runner.run)
            await queue.put(batch)
            await runner.stop(5)

    with caplog.at_level(logging.ERROR, logger="numbatd"):
        trio.run(main)
    assert metrics.values(metrics.dropped, "cause", sink="jsonl") == {"error": 2}
    (failed,) = [r for r in caplog.records if r.getMessage() == "sink write failed; its batch is lost"]
    assert failed.listeners == ["tcp://b", "udp://a"]  # type: ignore[attr-defined]
    assert failed.first_event == '{"name":"first","value":1,"time":1}'  # type: ignore[attr-defined]
    assert failed.error.startswith("IsADirectoryError")  # type: ignore[attr-defined]


@pytest.mark.parametrize("cut", [0, 1, 30, 59, 60, 61, 99])
def test_slices_keep_the_origin_of_every_event(cut: int) -> None:
    batch = mixed_batch()
    part = batch.slice(cut)
    assert [part.origin_of(i) for i in range(len(part))] == [batch.origin_of(i) for i in range(cut, 100)]
    selected = batch.select(lambda name: True)
    assert [selected.origin_of(i) for i in range(100)] == [batch.origin_of(i) for i in range(100)]


def test_a_stop_keeps_the_queued_events_it_can_encode_in_the_spool(tmp_path) -> None:
    config = SinkConfig(type="forward", options=ForwardOptions(url="tcp://127.0.0.1:1"))
    metrics = SelfMetrics()

    async def main() -> None:
        sink = SINK_TYPES["forward"].sink(config, SinkStats(metrics, "forward", "forward"), tmp_path / "state")

        async def stuck(body: bytes) -> None:
            await trio.sleep_forever()  # a peer that takes nothing: the stop's deadline cuts it off

        sink.deliver = stuck  # type: ignore[method-assign]
        queue = SinkQueue(10_000, "drop_oldest")
        runner = await SinkRunner.open(sink, queue, metrics)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(runner.run)
            await queue.put(mixed_batch())
            await trio.sleep(0.2)
            await queue.put(mixed_batch())
            await runner.stop(0.5)

    trio.run(main)
    assert skipped(metrics, "forward")["unwritable"] >= 2 * len(BAD)
    assert metrics.values(metrics.dropped, "cause", sink="forward") == {}  # nothing lost...
    # ...and everything kept, a part twice: a request cut short spools its body, and the batch
    # it came from is salvaged whole (at least once, as the forward sink promises)
    assert metrics.values(metrics.spooled, sink="forward")[""] >= 2 * (100 - len(BAD))


def test_what_a_listener_decodes_carries_its_name_to_the_sinks() -> None:
    intake = Intake(
        ListenerConfig(url="udp://127.0.0.1:1", name="edge"), Limits(), Router(), SelfMetrics(), FloodGate(5)
    )
    batch = intake.decode([b'{"name":"a"}', b"junk", b'{"name":"b"}'], size=0)
    assert [batch.origin_of(i) for i in range(len(batch))] == ["edge", "edge"]
    queued = SinkQueue(100, "drop_oldest")
    trio.run(queued.put, batch)
    assert queued.take_all()[0].listeners() == ["edge"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_listener_decodes_with_the_decoder_its_format_names(fmt: str) -> None:
    config = ListenerConfig(url="udp://127.0.0.1:1", format=fmt, precision="s")  # type: ignore[arg-type]
    intake = Intake(config, Limits(), Router(), SelfMetrics(), FloodGate(5))
    assert intake.decoder is decoder_for(fmt, "s")


@pytest.mark.parametrize(
    ("sinks", "aggregation", "expected"),
    [
        ('[[sinks]]\ntype = "jsonl"\npath = "{tmp}/a.jsonl"\n', "", True),
        ('[[sinks]]\ntype = "jsonl"\npath = "{tmp}/a.jsonl"\n[[sinks]]\ntype = "prometheus_remote_write"\n', "", True),
        ('[[sinks]]\ntype = "jsonl"\npath = "{tmp}/a.jsonl"\n[[sinks]]\ntype = "console"\n', "", False),
        ('[[sinks]]\ntype = "jsonl"\npath = "{tmp}/a.jsonl"\ninclude = ["app."]\n', "", False),
        ('[[sinks]]\ntype = "jsonl"\npath = "{tmp}/a.jsonl"\n', '[[aggregations]]\nname = "10s"\n', False),
    ],
)
def test_lines_travel_undecoded_only_when_every_consumer_writes_from_them(
    sinks: str, aggregation: str, expected: bool, tmp_path: Path
) -> None:
    """A sink that needs events (console), reads their names (include) or an aggregation
    (dicts in) makes the listeners decode every line."""
    assert answer_of_started_router(aggregation + sinks, tmp_path, Router.takes_lines) is expected


def answer_of_started_router(tables: str, tmp_path: Path, question: Callable[[Router], bool]) -> bool:
    """``question`` asked of a router started with a TCP listener and ``tables``."""
    listener = '[[listeners]]\nurl = "tcp://127.0.0.1:1"\n'
    text = f'state_dir = "{tmp_path}/state"\n' + listener + tables.replace("{tmp}", str(tmp_path))
    config = parse_config(tomllib.loads(text), SINK_TYPES)

    async def scenario() -> bool:
        router = Router(SelfMetrics())
        async with trio.open_nursery() as nursery:
            await nursery.start(router.run)
            await router.start(config)
            answer = question(router)
            await router.stop(5)
            nursery.cancel_scope.cancel()
        return answer

    return trio.run(scenario)


@pytest.mark.parametrize(
    ("sinks", "expected"),
    [
        ('[[sinks]]\ntype = "jsonl"\npath = "{tmp}/a.jsonl"\n', False),
        ('[[sinks]]\ntype = "forward"\nurl = "tcp://127.0.0.1:1"\n', False),
        ('[[sinks]]\ntype = "jsonl"\npath = "{tmp}/a.jsonl"\n[[sinks]]\ntype = "prometheus_remote_write"\n', True),
        ('[[sinks]]\ntype = "influxdb"\napi = "v1"\ndatabase = "d"\n', True),
        ('[[sinks]]\ntype = "influxdb"\napi = "v1"\ndatabase = "d"\ninclude = ["app."]\n', False),
    ],
)
def test_the_scan_of_lines_is_kept_only_for_a_sink_that_reads_it(sinks: str, expected: bool, tmp_path: Path) -> None:
    """The listener's scan waits in the queues with its batch, so it is kept only when a
    sink's transcoder reads it (jsonl and forward write the lines alone)."""
    assert answer_of_started_router(sinks, tmp_path, Router.takes_scans) is expected
