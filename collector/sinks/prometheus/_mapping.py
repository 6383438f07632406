"""Mapping rules: an event's name (and the type it came with) in, the Prometheus family,
type, help and labels out, or "drop". Sans-I/O.

statsd_exporter's semantics, with its keys: ``match`` is a glob (``*`` a run of
characters without a dot) or, with ``match_type = "regex"``, a regular expression
searched anywhere in the name (anchor it with ``^...$``); globs are tried first, in
order, then regexes, in order, and the first that matches decides; ``name`` and the
``labels`` values may hold capture references (_templates.py); ``match_metric_type``
limits a rule to events that came as a counter, a gauge or an observer (a timer,
histogram or distribution); ``action = "drop"`` drops what matches. An event no rule
matches keeps its own name, made valid, and no labels but its fields.

Beyond statsd_exporter: ``*`` may stand for part of a dotted component (``api.*_ms``),
not only a whole one; and events that came with no type (numbat, Influx and Graphite
events) take the rule's ``metric_type`` (a gauge by default, as their ``value`` is).

A decision depends on the name and the incoming type only, so the :class:`Mapper`
keeps decisions in a cache (cleared whole when it reaches its bound): rules run once
per name, not once per event.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ...config import require
from ._series import Kind
from ._templates import Template, TemplateError, expand, literal_text, parse_template
from ._text import NAME, RESERVED_PREFIX, metric_name

Incoming = Literal["counter", "gauge", "observer"]
ObserverType = Literal["summary", "histogram"]

#: client_golang's default buckets (seconds), as statsd_exporter uses them.
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: statsd_exporter's default quantiles.
DEFAULT_QUANTILES = (0.5, 0.9, 0.99)
#: Why an event made no series: the reasons the sink counts.
DROPPED = "mapping: drop"
EMPTY_NAME = "empty name"
_NAME_LITERAL = re.compile(r"[a-zA-Z0-9_]*")


@dataclass(frozen=True)
class MappingRule:
    """One ``[[sinks.mappings]]`` table."""

    match: str
    match_type: Literal["glob", "regex"] = "glob"
    #: The metric's name: required unless the action is "drop"; may hold $1, ${1}, ${name}.
    name: str = ""
    labels: dict[str, Any] = field(default_factory=dict)  #: label name -> value template
    help: str = ""
    action: Literal["map", "drop"] = "map"
    #: Only events that came as this type (statsd's c: counter, g: gauge, ms/h/d: observer).
    match_metric_type: Incoming | None = None
    #: The type of the events that came with none (numbat, Influx, Graphite events).
    metric_type: Incoming = "gauge"
    observer_type: ObserverType | None = None  #: default: the sink's
    buckets: tuple[float, ...] | None = None  #: histogram bounds; default: the sink's
    quantiles: tuple[float, ...] | None = None  #: summary quantiles; default: the sink's
    ttl: float | None = None  #: seconds without an update before a series goes; default: the sink's
    scale: float = 1.0  #: values are multiplied by it (after statsd's ms became seconds)
    #: Whether the event's fields win over this rule's labels of the same name.
    honor_labels: bool = False

    def __post_init__(self) -> None:
        require(bool(self.match), "match", "must be a glob such as 'api.*.latency' or a regex")
        try:
            pattern = compile_match(self.match, self.match_type)
        except re.error as exc:
            raise ValueError(f"match: {self.match!r} is not a regular expression: {exc}") from None
        if self.action == "map":
            require(bool(self.name), "name", "required (unless action = 'drop')")
            name = _template(self.name, pattern, "name")
            literal = literal_text(name)
            require(
                _NAME_LITERAL.fullmatch(literal) is not None,
                "name",
                f"{self.name!r}: a metric name takes letters, digits and _ besides its $ references",
            )
            require(not (isinstance(name[0], str) and name[0][:1].isdigit()), "name", "must not start with a digit")
        for label, value in self.labels.items():
            require(
                NAME.fullmatch(label) is not None and not label.startswith(RESERVED_PREFIX),
                "labels",
                f"{label!r} is not a label name (letters, digits and _, not starting with a digit or __)",
            )
            require(isinstance(value, str), f"labels.{label}", "must be a string")
            _template(value, pattern, f"labels.{label}")
        if self.buckets is not None:
            require(bool(self.buckets), "buckets", "must name at least one bound")
            require(all(a < b for a, b in itertools.pairwise(self.buckets)), "buckets", "must increase")
        if self.quantiles is not None:
            check_quantiles(self.quantiles, "quantiles")
        require(self.ttl is None or self.ttl >= 0, "ttl", "must not be negative")
        require(self.scale > 0, "scale", "must be positive")


def check_quantiles(quantiles: tuple[float, ...], key: str) -> None:
    require(bool(quantiles), key, "must name at least one quantile")
    require(all(0 <= q <= 1 for q in quantiles), key, "each must be between 0 and 1")
    require(all(a < b for a, b in itertools.pairwise(quantiles)), key, "must increase")


def compile_match(match: str, match_type: str) -> re.Pattern[str]:
    """A glob as an anchored regex (each ``*`` a group of characters without a dot), or the regex."""
    if match_type == "regex":
        return re.compile(match)
    return re.compile("".join("([^.]*)" if part == "*" else re.escape(part) for part in re.split(r"(\*)", match)))


def _template(text: str, pattern: re.Pattern[str], key: str) -> Template:
    try:
        return parse_template(text, pattern.groups, pattern.groupindex)
    except TemplateError as exc:
        raise ValueError(f"{key}: {exc}") from None


@dataclass(frozen=True, slots=True)
class Mapped:
    """What a rule (or the absence of one) made of a name: a family and its labels."""

    family: str  #: a valid name; a counter's ends in _total
    kind: Kind
    help: str
    labels: tuple[tuple[str, str], ...]  #: the rule's, expanded (empty values included)
    ttl: float
    scale: float
    honor_labels: bool
    buckets: tuple[float, ...]
    quantiles: tuple[float, ...]


@dataclass(frozen=True)
class MapperDefaults:
    """The sink's defaults for what a rule does not say."""

    ttl: float = 0.0
    observer_type: ObserverType = "summary"
    buckets: tuple[float, ...] = DEFAULT_BUCKETS
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES


class _Rule:
    """A rule, compiled."""

    def __init__(self, rule: MappingRule) -> None:
        self.rule = rule
        pattern = compile_match(rule.match, rule.match_type)
        self.find = pattern.fullmatch if rule.match_type == "glob" else pattern.search
        self.name = _template(rule.name, pattern, "name") if rule.action == "map" else ()
        self.labels = tuple((label, _template(value, pattern, label)) for label, value in rule.labels.items())


class Mapper:
    """Decisions for (name, incoming type), by the rules; cached up to ``cache_size``."""

    def __init__(self, rules: tuple[MappingRule, ...], defaults: MapperDefaults, cache_size: int = 100_000) -> None:
        compiled = [_Rule(rule) for rule in rules]
        # statsd_exporter's order: every glob before any regex, each kind in file order
        self._rules = [r for r in compiled if r.rule.match_type == "glob"] + [
            r for r in compiled if r.rule.match_type == "regex"
        ]
        self.defaults = defaults
        self.cache_size = cache_size
        self._cache: dict[tuple[str, Incoming | None], Mapped | str] = {}

    def decide(self, name: str, incoming: Incoming | None) -> Mapped | str:
        """The mapping of events named ``name`` that came as ``incoming`` (None: untyped),
        or why they make no series."""
        key = (name, incoming)
        decision = self._cache.get(key)
        if decision is None:
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            decision = self._cache[key] = self._decide(name, incoming)
        return decision

    def _decide(self, name: str, incoming: Incoming | None) -> Mapped | str:
        for compiled in self._rules:
            rule = compiled.rule
            if rule.match_metric_type is not None and rule.match_metric_type != incoming:
                continue
            found = compiled.find(name)
            if found is None:
                continue
            if rule.action == "drop":
                return DROPPED
            kind = self._kind(incoming or rule.metric_type, rule.observer_type)
            family = _family_name(expand(compiled.name, found), kind)
            if not family:
                return EMPTY_NAME
            defaults = self.defaults
            return Mapped(
                family=family,
                kind=kind,
                help=rule.help or f"numbatd: the events matching {rule.match}",
                labels=tuple((label, expand(template, found)) for label, template in compiled.labels),
                ttl=defaults.ttl if rule.ttl is None else rule.ttl,
                scale=rule.scale,
                honor_labels=rule.honor_labels,
                buckets=rule.buckets or defaults.buckets,
                quantiles=rule.quantiles or defaults.quantiles,
            )
        kind = self._kind(incoming or "gauge", None)
        family = _family_name(name, kind)
        if not family:
            return EMPTY_NAME
        defaults = self.defaults
        return Mapped(
            family=family,
            kind=kind,
            help=f"numbatd: the events named {name}",
            labels=(),
            ttl=defaults.ttl,
            scale=1.0,
            honor_labels=False,
            buckets=defaults.buckets,
            quantiles=defaults.quantiles,
        )

    def _kind(self, incoming: Incoming, observer_type: ObserverType | None) -> Kind:
        if incoming == "observer":
            return observer_type or self.defaults.observer_type
        return incoming


def _family_name(text: str, kind: Kind) -> str:
    """The family's name as the page writes it: valid, and a counter's ending in ``_total``
    (as prometheus-client writes counters, and promtool's lint asks)."""
    name = metric_name(text)
    if kind == "counter" and name and not name.endswith("_total"):
        name += "_total"
    return name
