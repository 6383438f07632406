"""The sinks, by type name, and what a sink is.

:data:`SINK_TYPES` is the registry: each type's options class (the keys of its
``[[sinks]]`` table, handed to the configuration loader) and its sink class (made by the
router). One module or package per sink: _console.py, _jsonl.py, _forward.py,
influxdb/, graphite/, prometheus/ (the page Prometheus scrapes), remote_write/ (Prometheus
remote write), alerts/ (rules, incidents, notifications); remote/ is what the sinks that
write to a remote store share (retries, the spool, an HTTP client); _base.py is
:class:`Sink`, its life and what its runner may ask of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config import SinkOptions
from ._base import Sink
from ._console import ConsoleOptions, ConsoleSink
from ._forward import ForwardOptions, ForwardSink
from ._jsonl import JsonlOptions, JsonlSink
from .alerts import AlertsOptions, AlertsSink
from .graphite import GraphiteOptions, GraphiteSink
from .influxdb import InfluxOptions, InfluxSink
from .prometheus import PrometheusOptions, PrometheusSink
from .remote import RemoteSink, SpoolOptions, Unavailable
from .remote_write import RemoteWriteOptions, RemoteWriteSink


@dataclass(frozen=True)
class SinkType:
    """One entry of the registry: the class that checks a sink type's options, and the
    class of the sink."""

    options: type[SinkOptions]
    sink: type[Sink[Any]]

    @classmethod
    def of(cls, sink: type[Sink[Any]]) -> SinkType:
        return cls(sink.Options, sink)


SINK_TYPES: Mapping[str, SinkType] = {
    sink.kind: SinkType.of(sink)
    for sink in (
        ConsoleSink,
        JsonlSink,
        ForwardSink,
        InfluxSink,
        GraphiteSink,
        PrometheusSink,
        RemoteWriteSink,
        AlertsSink,
    )
}

__all__ = [
    "SINK_TYPES",
    "AlertsOptions",
    "AlertsSink",
    "ConsoleOptions",
    "ConsoleSink",
    "ForwardOptions",
    "ForwardSink",
    "GraphiteOptions",
    "GraphiteSink",
    "InfluxOptions",
    "InfluxSink",
    "JsonlOptions",
    "JsonlSink",
    "PrometheusOptions",
    "PrometheusSink",
    "RemoteSink",
    "RemoteWriteOptions",
    "RemoteWriteSink",
    "Sink",
    "SinkOptions",
    "SinkType",
    "SpoolOptions",
    "Unavailable",
]
