"""The collector's declared surfaces: what each of its packages lets other code import.

A change to a surface shows here, as a decision (trio's test_exports.py is the model).
Everything else is internal: a module whose name starts with an underscore, which only
its own package imports.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import collector
from collector import config, sinks, wire


def names(text: str) -> list[str]:
    return text.split()


#: Each package's names, as one text per package: what its ``__all__`` must hold.
SURFACES = {
    "collector": names("SINK_TYPES Config ConfigError Daemon Sink SinkType decoder_for default_config load_config"),
    "collector.config": names(
        "DEFAULT_CONFIG DEFAULT_PORT DEFAULT_SELF_METRICS Config ConfigError HasOptions Limits ListenAddress "
        "ListenerConfig LogConfig SelfMetricsConfig SinkConfig SinkOptions default_config load_config "
        "parse_config parse_listen_url require require_at_most"
    ),
    "collector.wire": names(
        "FORMATS TIME_RANGE_MS Batch Decoder Event Format LineFramer Rejection decoder_for drop_long_lines"
    ),
    "collector.listeners": names("Intake Listeners"),
    "collector.router": names("Router SinkQueue SinkRunner"),
    "collector.sinks": names(
        "SINK_TYPES ConsoleOptions ForwardOptions InfluxOptions JsonlOptions RemoteSink Sink SinkType "
        "SpoolOptions Unavailable"
    ),
    "collector.sinks.remote": names("RemoteOptions RemoteSink SpoolOptions Unavailable"),
    "collector.sinks.influxdb": names("COMPILED_MODULE_DIR InfluxOptions InfluxSink LineEncoder"),
    "collector.observe": names("FloodGate HealthApp SelfMetrics SinkStats log serve_health setup_logging"),
}
#: Public modules that are no package with a surface: numbatd's command line, and ``python -m collector``.
COMMANDS = {"collector.cli", "collector.__main__"}


@pytest.mark.parametrize("package", sorted(SURFACES))
def test_each_package_declares_its_surface(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(SURFACES[package])
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_every_other_module_is_internal() -> None:
    """A module is a package with a surface, a command, or named with a leading underscore."""
    root = Path(collector.__file__).parent
    public = set()
    for info in pkgutil.walk_packages([str(root)], prefix="collector."):
        if not any(part.startswith("_") and part != "__main__" for part in info.name.split(".")):
            public.add(info.name)
    assert public == (set(SURFACES) | COMMANDS) - {"collector"}


def test_the_collectors_surface_is_what_its_packages_export() -> None:
    """``collector``'s names are loaded on first use; each is its home package's own."""
    assert collector.load_config is config.load_config
    assert collector.Sink is sinks.Sink
    assert collector.SINK_TYPES is sinks.SINK_TYPES
    assert collector.decoder_for is wire.decoder_for
    with pytest.raises(AttributeError):
        collector.nothing_of_that_name  # noqa: B018
