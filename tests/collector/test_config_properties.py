"""Any configuration ``--check-config`` accepts starts, reloads and stops cleanly.

Tables are drawn from the config classes themselves, key by key, with values that are
usual, at the edges and beyond them (zero, negative, huge, infinite, not a number, empty,
the wrong shape), so a key added later is covered without a change here. What the
schema accepts is then run for real: numbatd's daemon, in this process, on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
import tomli_w
import trio
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from collector import Daemon
from collector.config import (
    AggregationConfig,
    ConfigError,
    Limits,
    LogConfig,
    SelfMetricsConfig,
    SinkConfig,
    load_config,
)
from collector.sinks import SINK_TYPES


def mostly(usual: list[Any], edges: list[Any]) -> st.SearchStrategy[Any]:
    """A usual value three times in four, else one at or past an edge."""
    return st.one_of(*[st.sampled_from(usual)] * 3, st.sampled_from(edges))


INTS = mostly([1, 2, 7, 100, 65_536], [-1, 0, 2**31, 2**40, 2**62])
FLOATS = mostly([0.001, 0.05, 1.5, 30.0], [-1.0, 0.0, 1e9, math.inf, math.nan])
TEXTS = mostly(["x", "app"], ["", "localhost", "127.0.0.1:99999", "é"])
#: Keys whose values name places: only places on this machine that the test owns.
PLACES: dict[str, st.SearchStrategy[Any]] = {
    "url": st.sampled_from(["tcp://127.0.0.1:1", "unix:///nonexistent/numbat.sock", "http://127.0.0.1:1"]),
    "listen": mostly(["", "127.0.0.1:0"], ["localhost", "127.0.0.1:99999", "127.0.0.1:x"]),
    # what a sink takes: the raw events or one of the aggregations drawn (agg0, agg1), or none
    "input": mostly(["raw", "agg0", "agg0", "agg1"], ["nowhere", ""]),
}
#: Keys whose usual values have a shape of their own: drawn so that some are accepted.
SHAPED: dict[str, st.SearchStrategy[Any]] = {
    "delete_idle_after": mostly([0, 1, 3, "never"], [-1, "later", 2.5]),
    "histogram_bins": st.one_of(
        st.lists(st.sampled_from([0.01, 0.5, 1, 250]), unique=True, max_size=3).map(sorted),
        st.lists(st.sampled_from([0.5, 1]), unique=True, max_size=2).map(lambda bounds: [*sorted(bounds), "inf"]),
        st.lists(st.sampled_from([-1, 0, 1, "inf", "big", math.inf]), max_size=3),
    ),
    "percentiles": st.lists(mostly([50, 90, 99.9, -10], [0, 101, -100.5, math.nan]), max_size=4),
}


#: Tables a sink checks through a registry of its own (the alerts sink's rules and
#: outputs): a few that work and a few it must refuse, by the key that holds them.
NESTED_TABLES: dict[str, list[dict[str, Any]]] = {
    "rules": [
        {"kind": "heartbeat", "name": "beats"},
        {"kind": "status", "name": "checks", "for_evaluations": 2},
        {"kind": "threshold", "name": "load", "match": "*.load", "critical_above": 4},
        {"kind": "threshold", "name": "load"},  # no match, no bound
        {"kind": "carrier-pigeon", "name": "x"},
    ],
    "outputs": [
        {"type": "log"},
        {"type": "webhook", "url": "http://127.0.0.1:1/hook"},
        {"type": "webhook"},  # no url
        {"type": "carrier-pigeon"},
    ],
}


def value_for(hint: Any, key: str) -> st.SearchStrategy[Any]:
    if key in PLACES:
        return PLACES[key]
    if key in SHAPED:
        return SHAPED[key]
    origin = get_origin(hint)
    if origin is Literal:
        return mostly(list(get_args(hint)), ["bogus"])
    if origin is tuple:
        item = get_args(hint)[0]
        if item is str:
            return st.lists(st.sampled_from(["app.", "x"]), max_size=2)
        if get_origin(item) is dict:  # tables checked by their own registry: the alerts sink's rules and outputs
            return st.lists(st.sampled_from(NESTED_TABLES[key]), max_size=2)
        return st.lists(value_for(item, key), max_size=3)
    if origin in (types.UnionType, typing.Union):
        return st.one_of(*[value_for(option, key) for option in get_args(hint) if option is not type(None)])
    if hint is bool:
        return mostly([True, False], [1])
    if hint is int:
        return INTS
    if hint is float:
        return FLOATS | INTS
    if hint is str:
        return TEXTS
    if dataclasses.is_dataclass(hint):
        return table_for(hint)
    return st.nothing()


def table_for(cls: Any, fixed: dict[str, Any] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Some of ``cls``'s keys, each with a drawn value; ``fixed`` keys always, as given."""
    hints = typing.get_type_hints(cls)
    fixed = fixed or {}
    drawn = {
        f.name: value_for(hints[f.name], f.name)
        for f in dataclasses.fields(cls)
        if f.name not in fixed and not isinstance(hints[f.name], type(Any)) and get_origin(hints[f.name]) is not dict
    }

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        table = dict(fixed)
        for key, strategy in drawn.items():
            if draw(st.integers(0, 5)) == 0:
                table[key] = draw(strategy)
        return table

    return build()


def sink_table(kind: str, folder: Path) -> st.SearchStrategy[dict[str, Any]]:
    fixed: dict[str, Any] = {"type": kind}
    if kind == "jsonl":
        fixed["path"] = str(folder / "events.jsonl")
    if kind == "influxdb":
        fixed |= {"url": "http://127.0.0.1:1", "database": "db", "bucket": "b"}
    if kind == "prometheus_remote_write":
        fixed["url"] = "http://127.0.0.1:1/api/v1/write"  # never the default's 9090, where a real one may run
    if kind in ("influxdb", "forward", "prometheus_remote_write"):
        fixed["spool"] = {"dir": str(folder / f"spool-{kind}")}
    if kind in ("prometheus", "alerts"):  # a port of the system's choosing, never a default another run may hold
        fixed["listen"] = "127.0.0.1:0"
    own = table_for(SINK_TYPES[kind].options, fixed)
    common = table_for(SinkConfig, {"name": kind})
    # half the sinks say what they take, so that some take an aggregation's summaries
    taken = st.one_of(st.just({}), PLACES["input"].map(lambda name: {"input": name}))

    def merged(parts: tuple[dict[str, Any], dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
        # "options" is no key of the table: the sink type's own keys, drawn above, are its options
        return {k: v for k, v in parts[1].items() if k not in ("type", "options")} | parts[2] | parts[0]

    return st.tuples(own, common, taken).map(merged)


#: One or two aggregations three times in four, named as the sinks' inputs are drawn.
aggregations = st.one_of(*[st.lists(table_for(AggregationConfig), min_size=1, max_size=2)] * 3, st.just([])).map(
    lambda items: [item | {"name": f"agg{i}"} for i, item in enumerate(items)]
)


def configs(folder: Path) -> st.SearchStrategy[dict[str, Any]]:
    listener = st.fixed_dictionaries(
        {
            "url": st.sampled_from(["udp://127.0.0.1:0", "tcp://127.0.0.1:0", "http://127.0.0.1:0"]),
            "format": st.sampled_from(["numbat", "statsd", "influx", "graphite"]),
        },
        optional={"limits": table_for(Limits)},
    )
    kinds = st.lists(st.sampled_from(sorted(SINK_TYPES)), min_size=1, max_size=3, unique=True)
    return st.fixed_dictionaries(
        {
            "listeners": st.lists(listener, min_size=1, max_size=2).map(
                lambda items: [item | {"name": f"l{i}"} for i, item in enumerate(items)]
            ),
            "sinks": kinds.flatmap(lambda names: st.tuples(*(sink_table(kind, folder) for kind in names)).map(list)),
            "state_dir": st.just(str(folder / "state")),
            "aggregations": aggregations,
        },
        optional={
            "limits": table_for(Limits),
            "log": table_for(LogConfig),
            "self_metrics": table_for(SelfMetricsConfig),
            "shutdown_timeout": FLOATS,
        },
    )


async def start_reload_stop(path: Path, second: bytes) -> None:
    daemon = Daemon(load_config(path, SINK_TYPES), path)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run)
            path.write_bytes(second)
            await daemon.reload()
            os.kill(os.getpid(), signal.SIGTERM)  # the daemon's own signal receiver takes it


def accepted(path: Path, table: dict[str, Any]) -> bool:
    path.write_bytes(tomli_w.dumps(table).encode())
    try:
        load_config(path, SINK_TYPES)
    except ConfigError:
        return False
    return True


# Most drawn tables hold some value the schema refuses, by design: filtering is expected.
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_what_check_config_accepts_starts_reloads_and_stops(tmp_path_factory, data) -> None:
    folder = tmp_path_factory.mktemp("config")
    path = folder / "numbatd.toml"
    first = data.draw(configs(folder))
    assume(accepted(path, first))
    original = path.read_bytes()
    second = data.draw(configs(folder))
    second_text = path.read_bytes() if accepted(path, second) else original
    path.write_bytes(original)
    trio.run(start_reload_stop, path, second_text)


def test_a_config_of_values_only_python_would_take_is_refused(tmp_path) -> None:
    for change, message in [
        ("shutdown_timeout = -1\n", "config.shutdown_timeout: must be positive"),
        ("shutdown_timeout = inf\n", "config.shutdown_timeout: must be a finite number"),
        ('[self_metrics]\nlisten = "localhost"\n', "config.self_metrics.listen: 'localhost' is not host:port"),
        ("[limits]\nudp_receive_buffer = 4294967296\n", "config.limits.udp_receive_buffer: must be at most"),
        ("[log]\nflood_rate = 0\n", "config.log.flood_rate: must be positive"),
        ('[[sinks]]\ntype = "jsonl"\npath = "x"\nkeep = 100000\n', "sinks[1].keep: must be at most 1,000"),
        (
            '[[sinks]]\ntype = "influxdb"\ndatabase = "d"\napi = "v1"\nmax_in_flight = 1000\n',
            "sinks[1].max_in_flight: must be at most 64",
        ),
    ]:
        path = tmp_path / "c.toml"
        base = '[[listeners]]\nurl = "udp://127.0.0.1:0"\n[[sinks]]\ntype = "console"\n'
        path.write_text(change + base if not change.startswith("[") else base + change)
        with pytest.raises(ConfigError) as refused:
            load_config(path, SINK_TYPES)
        assert message in str(refused.value)
