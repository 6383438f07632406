"""Sinks by type name. Each type's ``Options`` dataclass is its part of the config."""

from __future__ import annotations

from typing import Any

from .base import Sink
from .console import ConsoleSink
from .forward import ForwardSink
from .influxdb import InfluxSink
from .jsonl import JsonlSink

SINKS: dict[str, type[Sink]] = {sink.kind: sink for sink in (ConsoleSink, JsonlSink, ForwardSink, InfluxSink)}
SINK_OPTIONS: dict[str, type[Any]] = {name: sink.Options for name, sink in SINKS.items()}

__all__ = ["SINKS", "SINK_OPTIONS", "Sink"]
