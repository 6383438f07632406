"""A sink's life: its state made with it, open() only acquiring what it writes to, close()
safe whatever open() got to; and options of its own type only."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from collector.config import SinkConfig, SinkOptions
from collector.observe import SelfMetrics
from collector.router import SinkQueue, SinkRunner
from collector.sinks import (
    SINK_TYPES,
    AlertsOptions,
    ConsoleOptions,
    ForwardOptions,
    GraphiteOptions,
    InfluxOptions,
    JsonlOptions,
    PrometheusOptions,
    RemoteWriteOptions,
    Sink,
    SpoolOptions,
)
from collector.sinks.remote._spool import Spool


def options_for(kind: str, folder: Path) -> SinkOptions:
    return {
        "console": ConsoleOptions(),
        "jsonl": JsonlOptions(path=str(folder / "out" / "events.jsonl")),
        "forward": ForwardOptions(url="tcp://127.0.0.1:1"),
        "influxdb": InfluxOptions(database="db", api="v1", batch_size=123, flush_interval=0.25),
        "prometheus": PrometheusOptions(listen="127.0.0.1:0"),
        "alerts": AlertsOptions(listen="127.0.0.1:0", rules=({"kind": "heartbeat", "name": "beats"},)),
        "prometheus_remote_write": RemoteWriteOptions(url="http://127.0.0.1:1/w", batch_size=123, flush_interval=0.25),
        "graphite": GraphiteOptions(batch_size=123, flush_interval=0.25),
    }[kind]


def make(kind: str, folder: Path, options: SinkOptions | None = None) -> Sink[object]:
    config = SinkConfig(type=kind, options=options or options_for(kind, folder))
    return SINK_TYPES[kind].sink(config, state_dir=folder / "state")


@pytest.mark.parametrize("kind", sorted(SINK_TYPES))
def test_a_sink_is_whole_when_made_and_acquires_nothing_until_opened(kind: str, tmp_path: Path) -> None:
    sink = make(kind, tmp_path)
    if kind in ("influxdb", "graphite", "prometheus_remote_write"):  # what the runner asks of it is known before open()
        assert (sink.batch_events, sink.linger) == (123, 0.25)
    assert list(tmp_path.iterdir()) == []  # no file, no folder, no spool
    trio.run(sink.close)  # closing what was never opened releases nothing, and raises nothing
    assert list(tmp_path.iterdir()) == []


def test_a_sink_refuses_options_of_another_type(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="a jsonl sink takes JsonlOptions, not ConsoleOptions"):
        make("jsonl", tmp_path, ConsoleOptions())


def damaged_spool_folder(folder: Path) -> Path:
    """A spool folder whose replay stands at segment 3, where open() fails: the segment's
    name is taken by a folder."""
    folder.mkdir(parents=True)
    (folder / "cursor").write_text("3 100\n")
    (folder / f"{3:012d}.spool").mkdir()
    return folder


def test_a_spool_that_failed_to_open_keeps_its_cursor(tmp_path: Path) -> None:
    folder = damaged_spool_folder(tmp_path / "spool")
    spool = Spool(folder)
    with pytest.raises(IsADirectoryError):
        spool.open()
    spool.close()
    assert (folder / "cursor").read_text() == "3 100\n"  # where replay stands, for the next run


def test_a_sink_whose_spool_cannot_open_refuses_to_start_and_loses_nothing(tmp_path: Path) -> None:
    folder = damaged_spool_folder(tmp_path / "spool")
    sink = make("forward", tmp_path, ForwardOptions(url="tcp://127.0.0.1:1", spool=SpoolOptions(dir=str(folder))))

    async def start() -> None:
        await SinkRunner.open(sink, SinkQueue(10, "drop_oldest"), SelfMetrics())

    with pytest.raises(IsADirectoryError):
        trio.run(start)
    assert (folder / "cursor").read_text() == "3 100\n"
