"""numbatd's configuration: TOML in, checked frozen dataclasses out (the tables in
_settings.py, the aggregations' in _aggregations.py, their checks in _checks.py, the file in
_load.py, addresses in _addresses.py).

Imports no sink and no I/O framework: the sink types are handed to :func:`load_config`,
so ``numbatd --check-config`` and anyone embedding the collector read a configuration
without loading what the sinks need.
"""

from ._addresses import ListenAddress, parse_listen_url
from ._aggregations import NEVER, RAW, AggregationConfig, RuleConfig
from ._checks import ConfigError, require, require_at_most
from ._load import DEFAULT_CONFIG, HasOptions, default_config, load_config, parse_config
from ._settings import (
    DEFAULT_PORT,
    DEFAULT_SELF_METRICS,
    Config,
    Limits,
    ListenerConfig,
    LogConfig,
    SelfMetricsConfig,
    SinkConfig,
    SinkOptions,
)

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_PORT",
    "DEFAULT_SELF_METRICS",
    "NEVER",
    "RAW",
    "AggregationConfig",
    "Config",
    "ConfigError",
    "HasOptions",
    "Limits",
    "ListenAddress",
    "ListenerConfig",
    "LogConfig",
    "RuleConfig",
    "SelfMetricsConfig",
    "SinkConfig",
    "SinkOptions",
    "default_config",
    "load_config",
    "parse_config",
    "parse_listen_url",
    "require",
    "require_at_most",
]
