"""numbatd's configuration from TOML: the file read, every table checked, the sink types handed in.

The loader knows no sink: the caller (the daemon, numbatd's command line) hands it the
sink types, each with the class that checks its options, so reading a configuration
loads no sink's dependencies, and a sink type added to the registry is configurable at once.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from ._aggregations import RAW, AggregationConfig
from ._checks import ConfigError, build
from ._settings import DEFAULT_PORT, DEFAULT_SELF_METRICS, Config, ListenerConfig, SinkConfig, SinkOptions


class HasOptions(Protocol):
    """What the loader needs of a sink type: the class that checks its own keys."""

    @property
    def options(self) -> type[SinkOptions]: ...


#: What ``numbatd`` runs with no arguments: needs no other server.
DEFAULT_CONFIG = f"""
[[listeners]]
url = "udp://127.0.0.1:{DEFAULT_PORT}"
format = "numbat"

[[listeners]]
url = "tcp://127.0.0.1:{DEFAULT_PORT}"
format = "numbat"

[[sinks]]
type = "console"

[self_metrics]
listen = "{DEFAULT_SELF_METRICS}"
"""


def default_config(sink_types: Mapping[str, HasOptions]) -> Config:
    return parse_config(tomllib.loads(DEFAULT_CONFIG), sink_types)


def load_config(path: str | Path, sink_types: Mapping[str, HasOptions]) -> Config:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.start}): TOML files are UTF-8") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return parse_config(table, sink_types)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def parse_config(table: dict[str, Any], sink_types: Mapping[str, HasOptions]) -> Config:
    """A checked :class:`Config` from a TOML table; ``sink_types`` says which sink types there are."""
    table = dict(table)
    listeners = table.pop("listeners", None)
    sinks = table.pop("sinks", None)
    aggregations = table.pop("aggregations", [])
    if not isinstance(listeners, list) or not listeners:
        raise ConfigError("listeners: at least one [[listeners]] table is required")
    if not isinstance(sinks, list) or not sinks:
        raise ConfigError("sinks: at least one [[sinks]] table is required")
    parsed_listeners = tuple(build(ListenerConfig, item, f"listeners[{i}]") for i, item in enumerate(listeners))
    parsed_sinks = []
    for i, item in enumerate(sinks):
        where = f"sinks[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: must be a table")
        kind = item.get("type")
        if not isinstance(kind, str) or kind not in sink_types:
            raise ConfigError(f"{where}.type: must be one of {', '.join(map(repr, sorted(sink_types)))}; got {kind!r}")
        common = {f.name for f in dataclasses.fields(SinkConfig)} - {"options"}
        options = build(sink_types[kind].options, {k: v for k, v in item.items() if k not in common}, where)
        parsed_sinks.append(build(SinkConfig, {k: v for k, v in item.items() if k in common}, where, options=options))
    if not isinstance(aggregations, list):
        raise ConfigError("aggregations: must be [[aggregations]] tables")
    parsed_aggregations = tuple(
        build(AggregationConfig, item, f"aggregations[{i}]") for i, item in enumerate(aggregations)
    )
    config = build(Config, {**table, "listeners": [], "sinks": []}, "config")
    config = dataclasses.replace(
        config, listeners=parsed_listeners, sinks=tuple(parsed_sinks), aggregations=parsed_aggregations
    )
    _check_unique("listeners", [listener.name for listener in config.listeners])
    _check_unique("sinks", [sink.name for sink in config.sinks])
    _check_unique("aggregations", [aggregation.name for aggregation in config.aggregations])
    _check_inputs(config)
    for index, listener in enumerate(config.listeners):
        if "fd_reserve" in listener.limits:
            raise ConfigError(f"listeners[{index}].limits.fd_reserve: process-wide; set it in [limits]")
        config.limits_for(listener)  # reports a bad per-listener override now, not at start
    return config


def _check_inputs(config: Config) -> None:
    """Every sink's input is "raw" or an aggregation of this file."""
    names = [aggregation.name for aggregation in config.aggregations]
    for index, sink in enumerate(config.sinks):
        if sink.input != RAW and sink.input not in names:
            choices = ", ".join(map(repr, [RAW, *names]))
            raise ConfigError(f"sinks[{index}].input: {sink.input!r} names no aggregation; expected one of {choices}")


def _check_unique(where: str, names: list[str]) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"{where}: the name {name!r} is used twice; give each a distinct name")
        seen.add(name)
