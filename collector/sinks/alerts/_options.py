"""The keys of a ``type = "alerts"`` sink, each checked as the configuration is read.

The rules and the outputs are lists of tables of several shapes (``kind`` picks a rule's,
``type`` an output's), which the generic loader cannot tell apart: they arrive as plain
tables and ``__post_init__`` builds each with its own class (collector.config's
``build``), so a bad key is named where it is written
(``sinks[0].rules[1].ttl: ...``) and ``--check-config`` catches it before anything runs.
The built rules and outputs are kept beside the tables (not fields: two options are
equal when their tables are, which is what a reload compares).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...alerts import RULE_TYPES, AlertRule, check_rules
from ...alerts.outputs import OUTPUT_TYPES, OutputOptions
from ...config import SinkOptions, require, require_at_most
from ...config._checks import ConfigError, build, check_host_port

#: Keys of an output's table that are the sink's, not the output's options.
_OUTPUT_OWN_KEYS = ("type", "name")


@dataclass(frozen=True)
class OutputSpec:
    """One configured output: its name (its self-metrics label), its type and options."""

    name: str
    type: str
    options: OutputOptions


@dataclass(frozen=True)
class AlertsOptions(SinkOptions):
    #: host:port of the incidents and silences API (GET /incidents, /silences; POST, DELETE /silences).
    listen: str = "127.0.0.1:9095"
    #: ``[[sinks.rules]]``: each a ``kind`` (heartbeat, status, threshold, absent, ratio) and its keys.
    rules: tuple[dict[str, Any], ...] = ()
    #: ``[[sinks.outputs]]``: each a ``type`` (pagerduty, slack, webhook, alertmanager, log,
    #: remediation), an optional ``name``, and its keys.
    outputs: tuple[dict[str, Any], ...] = ()
    max_silences: int = 1_000  #: silences at once; more are refused (HTTP 409)
    #: Seconds between saves of the state to SQLite while it changes (and once at close).
    save_interval: float = 1.0
    #: Longest sleep of the evaluation task between ticks, seconds (a bound on a missed wake-up).
    max_tick_interval: float = 1.0
    #: Seconds a stop waits for the outputs to send what they hold.
    close_timeout: float = 5.0
    max_connections: int = 64  #: API clients at once; more are closed at once
    read_timeout: float = 10.0  #: seconds a request may take to arrive, once begun
    idle_timeout: float = 60.0  #: seconds a kept-alive API connection may wait

    def __post_init__(self) -> None:
        check_host_port(self.listen, "listen")
        require(self.max_silences > 0, "max_silences", "must be positive")
        require_at_most(self.max_silences, 1_000_000, "max_silences")
        for key in ("save_interval", "max_tick_interval", "close_timeout", "read_timeout", "idle_timeout"):
            require(getattr(self, key) > 0, key, "must be positive")
        require_at_most(self.max_tick_interval, 3600, "max_tick_interval")
        require(self.max_connections > 0, "max_connections", "must be positive")
        require_at_most(self.max_connections, 10_000, "max_connections")
        object.__setattr__(self, "_rules", _build_rules(self.rules))
        object.__setattr__(self, "_outputs", _build_outputs(self.outputs))

    @property
    def built_rules(self) -> tuple[AlertRule, ...]:
        rules: tuple[AlertRule, ...] = self.__dict__["_rules"]
        return rules

    @property
    def built_outputs(self) -> tuple[OutputSpec, ...]:
        outputs: tuple[OutputSpec, ...] = self.__dict__["_outputs"]
        return outputs

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


def _build_rules(tables: tuple[dict[str, Any], ...]) -> tuple[AlertRule, ...]:
    rules: list[AlertRule] = []
    for i, table in enumerate(tables):
        where = f"rules[{i}]"
        kind = str(table.get("kind", ""))
        require(kind in RULE_TYPES, f"{where}.kind", f"must be one of {', '.join(map(repr, RULE_TYPES))}; got {kind!r}")
        try:
            rules.append(build(RULE_TYPES[kind], {k: v for k, v in table.items() if k != "kind"}, where))
        except ConfigError as exc:
            raise ValueError(str(exc)) from None  # the sink's build adds "sinks[n]."
    try:
        return check_rules(rules)
    except ValueError as exc:
        raise ValueError(f"rules.{exc}") from None


def _build_outputs(tables: tuple[dict[str, Any], ...]) -> tuple[OutputSpec, ...]:
    outputs: list[OutputSpec] = []
    names: set[str] = set()
    for i, table in enumerate(tables):
        where = f"outputs[{i}]"
        kind = str(table.get("type", ""))
        require(
            kind in OUTPUT_TYPES, f"{where}.type", f"must be one of {', '.join(map(repr, OUTPUT_TYPES))}; got {kind!r}"
        )
        name = table.get("name", kind)
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}.name: must be a non-empty string")
        require(name not in names, f"{where}.name", f"two outputs are named {name!r}: give each a name")
        names.add(name)
        try:
            options = build(
                OUTPUT_TYPES[kind].Options, {k: v for k, v in table.items() if k not in _OUTPUT_OWN_KEYS}, where
            )
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        outputs.append(OutputSpec(name, kind, options))
    return tuple(outputs)
