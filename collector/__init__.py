"""numbatd, the collector: events in over the wire, fanned out to sinks.

The path an event takes, one package each: ``listeners`` (trio shells: sockets in) →
``wire`` (sans-I/O: framing, the format's decoder, events in a :class:`~collector.wire.Batch`)
→ ``router`` (fan-out to each sink's queue, and each sink's runner) → ``sinks`` (one per
type; ``sinks.influxdb`` holds everything InfluxDB needs). Beside them: ``config`` (the
TOML file, checked), ``observe`` (self-metrics, health endpoint, numbatd's own log), and
the daemon that wires them together (_daemon.py; ``numbatd`` is cli.py).

What an embedding program may use is below; it is loaded on first use, so importing
``collector.config`` (say, to check a file) loads no sink and no I/O framework.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._daemon import Daemon
    from .config import Config, ConfigError, default_config, load_config
    from .sinks import SINK_TYPES, Sink, SinkType
    from .wire import decoder_for

__all__ = [
    "SINK_TYPES",
    "Config",
    "ConfigError",
    "Daemon",
    "Sink",
    "SinkType",
    "decoder_for",
    "default_config",
    "load_config",
]

_HOMES = {
    "SINK_TYPES": ".sinks",
    "Config": ".config",
    "ConfigError": ".config",
    "Daemon": "._daemon",
    "Sink": ".sinks",
    "SinkType": ".sinks",
    "decoder_for": ".wire",
    "default_config": ".config",
    "load_config": ".config",
}


def __getattr__(name: str) -> Any:
    """The surface, imported when first asked for (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value
