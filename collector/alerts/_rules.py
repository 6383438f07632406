"""What an alert rule is told: one frozen dataclass per kind of rule, checked on construction.

The field names are the configuration's keys and their types TOML's (seconds as
numbers, globs as strings, ``where`` as a table), so the configuration loader can build
a rule straight from its table (collector.config's ``build``) and a bad value fails where
it is written: every check raises ValueError as ``key: problem``. Plain standard library:
the configuration may import this module without loading the engine.

Every rule has a ``name`` (unique, the first part of its incidents' keys) and the
incident options of :class:`RuleBase`: remediation, re-notification and flap damping.
Durations are seconds (floats), as everywhere in numbatd's configuration; the engine
works in milliseconds (:func:`ms`).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import translate
from typing import ClassVar, Literal

Problem = Literal["warning", "critical", "unknown"]
_PROBLEMS = ("warning", "critical", "unknown")
RuleKind = Literal["heartbeat", "status", "threshold", "absent", "ratio"]
KINDS: tuple[RuleKind, ...] = ("heartbeat", "status", "threshold", "absent", "ratio")

#: The statistics a threshold rule can take over its window; ``p<N>`` is a percentile.
STATISTICS = ("last", "mean", "min", "max", "sum", "count", "rate")
_PERCENTILE = re.compile(r"p(100|[0-9]{1,2}(?:\.[0-9]+)?)")
#: Fields that make an event what it is, never a key field.
_NOT_KEY_FIELDS = frozenset({"name", "value", "time"})
#: The longest duration any option takes: a year (timers past it are a typo).
MAX_SECONDS = 366 * 86_400.0


def ms(seconds: float) -> int:
    """``seconds`` as whole milliseconds (the engine's clock)."""
    return round(seconds * 1000)


def glob_matcher(glob: str) -> re.Pattern[str]:
    """A compiled shell glob on a whole string, case-sensitive (``*`` crosses dots)."""
    return re.compile(translate(glob))


def _require(condition: bool, key: str, problem: str) -> None:
    if not condition:
        raise ValueError(f"{key}: {problem}")


def _seconds(value: float, key: str, *, zero: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    _require(ok, key, f"must be a number of seconds, got {value!r}")
    if zero:
        _require(0 <= value <= MAX_SECONDS, key, f"must be 0 or more seconds, at most {MAX_SECONDS:,.0f}")
    else:
        _require(0 < value <= MAX_SECONDS, key, f"must be more than 0 seconds, at most {MAX_SECONDS:,.0f}")
        _require(ms(value) >= 1, key, "must be at least a millisecond")


def _glob(value: str, key: str) -> None:
    _require(isinstance(value, str) and bool(value), key, "must be a glob such as 'web.*.latency'")


def _key_fields(fields: tuple[str, ...], key: str = "key_fields", reserved: Iterable[str] = ()) -> None:
    not_keys = _NOT_KEY_FIELDS | set(reserved)
    for name in fields:
        _require(isinstance(name, str) and bool(name), key, "a field name cannot be empty")
        _require(name not in not_keys, key, f"{name!r} cannot be a key field")
    _require(len(set(fields)) == len(fields), key, "names a field twice")


def _where(where: Mapping[str, str], key: str = "where") -> None:
    _require(isinstance(where, Mapping), key, "must be a table of field = glob")
    for name, glob in where.items():
        _require(isinstance(name, str) and bool(name), key, "a field name cannot be empty")
        _require(isinstance(glob, str), key, f"{name}: must be a glob (a string), got {glob!r}")


def _positive_int(value: int, key: str, *, at_most: int = 1_000_000_000) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool)
    _require(ok and 1 <= value <= at_most, key, f"must be a whole number from 1 to {at_most:,}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class RuleBase:
    """What every rule has: its name, and what happens to its incidents.

    ``remediation`` is a command (argv, run without a shell by the remediation output)
    for the engine to ask for when the rule fails: at the ``remediate_after``-th failing
    evaluation in a row (a heartbeat's or an absence's: each ttl or duration that passes
    in silence), or when the incident opens when it is None; once per run of failures.
    ``renotify``: seconds between reminders while an incident stays open (0: none).
    ``flap_hold``: a key's change out of a state that held this many seconds is
    notified at once; a change out of a shorter-lived state (the key flaps) must itself
    hold this long before it is notified: a flapping check pages once, not at every flap.
    ``max_keys``: keys (hosts, apps...) the rule watches at most; events of new keys past
    it are dropped and counted.
    """

    name: str
    remediation: tuple[str, ...] = ()
    remediate_after: int | None = None
    renotify: float = 0.0
    flap_hold: float = 60.0
    max_keys: int = 100_000

    kind: ClassVar[RuleKind] = "status"

    def __post_init__(self) -> None:
        _require(isinstance(self.name, str) and bool(self.name), "name", "a rule needs a name")
        _require("/" not in self.name, "name", f"{self.name!r}: '/' separates an incident key's parts")
        _require(all(isinstance(arg, str) for arg in self.remediation), "remediation", "must be a list of strings")
        _require(not self.remediation or bool(self.remediation[0]), "remediation", "the command cannot be empty")
        if self.remediate_after is not None:
            _positive_int(self.remediate_after, "remediate_after")
        _seconds(self.renotify, "renotify", zero=True)
        _seconds(self.flap_hold, "flap_hold", zero=True)
        _positive_int(self.max_keys, "max_keys", at_most=100_000_000)


@dataclass(frozen=True, kw_only=True)
class Confirmation:
    """``for``: how long a breach must last before it counts, as a duration
    (``for_seconds``: every evaluation in that time breached) and/or a number of
    consecutive evaluations (``for_evaluations``: "the second failed check in a row" is
    2). Both may be given: then both must hold. The defaults confirm at once."""

    for_seconds: float = 0.0
    for_evaluations: int = 1

    def _check_confirmation(self) -> None:
        _seconds(self.for_seconds, "for_seconds", zero=True)
        _positive_int(self.for_evaluations, "for_evaluations")


@dataclass(frozen=True, kw_only=True)
class Bounds:
    """Warning and critical bounds, above (value > bound) and/or below (value < bound).
    A critical bound must lie beyond its warning bound (above: higher; below: lower)."""

    warning_above: float | None = None
    critical_above: float | None = None
    warning_below: float | None = None
    critical_below: float | None = None

    def _check_bounds(self) -> None:
        bounds = {
            "warning_above": self.warning_above,
            "critical_above": self.critical_above,
            "warning_below": self.warning_below,
            "critical_below": self.critical_below,
        }
        for key, bound in bounds.items():
            if bound is not None:
                ok = isinstance(bound, int | float) and not isinstance(bound, bool) and math.isfinite(bound)
                _require(ok, key, f"must be a finite number, got {bound!r}")
        _require(any(b is not None for b in bounds.values()), "bounds", "give at least one of " + ", ".join(bounds))
        if self.warning_above is not None and self.critical_above is not None:
            _require(self.critical_above >= self.warning_above, "critical_above", "must not be below warning_above")
        if self.warning_below is not None and self.critical_below is not None:
            _require(self.critical_below <= self.warning_below, "critical_below", "must not be above warning_below")

    def limits(self) -> tuple[float, float, float, float]:
        """(critical above, critical below, warning above, warning below), an absent
        bound as an infinity no value passes: for a fast comparison (see :func:`level_of`)."""
        inf = math.inf
        return (
            inf if self.critical_above is None else float(self.critical_above),
            -inf if self.critical_below is None else float(self.critical_below),
            inf if self.warning_above is None else float(self.warning_above),
            -inf if self.warning_below is None else float(self.warning_below),
        )


def level_of(value: float, limits: tuple[float, float, float, float]) -> int:
    """The level of ``value`` against a rule's :meth:`Bounds.limits`: 3 critical, 1
    warning, 0 ok (the levels of _confirm.py)."""
    critical_above, critical_below, warning_above, warning_below = limits
    if value > critical_above or value < critical_below:
        return 3
    if value > warning_above or value < warning_below:
        return 1
    return 0


@dataclass(frozen=True, kw_only=True)
class HeartbeatRule(RuleBase):
    """Services that say they are alive: an event named like ``match`` (``web.heartbeat``)
    starts a watch of its (app, key fields) — the app is the name up to its last dot —
    which is critical (``severity``) once ``ttl`` passes without the next one. The ttl is
    the event's own ``ttl`` field (milliseconds, numbat's), else ``default_ttl`` seconds.
    An event named like ``shutdown_match`` (``web.shutdown``) of the same app and key
    resolves the watch and forgets it: a service stopped on purpose is no incident."""

    match: str = "*.heartbeat"
    shutdown_match: str = "*.shutdown"
    key_fields: tuple[str, ...] = ("host",)
    default_ttl: float = 60.0
    severity: Problem = "critical"

    kind: ClassVar[RuleKind] = "heartbeat"

    def __post_init__(self) -> None:
        super().__post_init__()
        _glob(self.match, "match")
        _glob(self.shutdown_match, "shutdown_match")
        _key_fields(self.key_fields, reserved=("app",))
        _seconds(self.default_ttl, "default_ttl")
        _require(
            self.severity in ("warning", "critical", "unknown"), "severity", "must be warning, critical or unknown"
        )


@dataclass(frozen=True, kw_only=True)
class StatusRule(RuleBase, Confirmation):
    """The ``status`` field of any event whose name matches ``match``: ``ok`` or ``okay``
    (the emitter's word) is well, ``warning``, ``critical`` and ``unknown`` are not
    (any case; Nagios's 0-3 too). Keyed by the name and ``key_fields``. A key that says
    nothing more for ``expire`` seconds (twice the event's ``ttl`` when it has one, as
    numbat-analyzer did) is resolved and forgotten: its checker is gone, and the
    heartbeat rule is the one to say so. 0: never, whatever the ttl."""

    match: str = "*"
    key_fields: tuple[str, ...] = ("host",)
    expire: float = 300.0

    kind: ClassVar[RuleKind] = "status"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_confirmation()
        _glob(self.match, "match")
        _key_fields(self.key_fields)
        _seconds(self.expire, "expire", zero=True)


@dataclass(frozen=True, kw_only=True)
class ThresholdRule(RuleBase, Confirmation, Bounds):
    """A statistic of a numeric field of the events matching ``match`` (and ``where``:
    field = glob on its text) over the last ``window`` seconds, per name and key fields,
    against warning and critical bounds.

    ``field`` is ``value`` for raw events, a statistic's name for aggregated summaries
    (``rate``, ``upper_90``...). ``statistic``: last, mean, min, max, sum, count, rate
    (the field's sum per second of window) or a percentile ``p<N>`` (``p99``, nearest
    rank). Each event evaluates its key; a key with no event for ``evaluate_every``
    seconds is evaluated again on its aged window (which does not count as one of
    ``for_evaluations``), and once its window is empty it is resolved (no data) and
    forgotten. Sums, counts, means, rates, minima and maxima keep 60 buckets a window
    (it slides a sixtieth of itself at a time); a percentile keeps the samples, at most
    ``max_samples`` a key (the oldest go first, counted)."""

    match: str
    where: dict[str, str] = dataclasses.field(default_factory=dict)
    key_fields: tuple[str, ...] = ("host",)
    field: str = "value"
    statistic: str = "last"
    window: float = 60.0
    evaluate_every: float = 10.0
    max_samples: int = 10_000

    kind: ClassVar[RuleKind] = "threshold"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_confirmation()
        self._check_bounds()
        _glob(self.match, "match")
        _where(self.where)
        _key_fields(self.key_fields)
        _require(isinstance(self.field, str) and bool(self.field), "field", "must name a field")
        _require(
            self.statistic in STATISTICS or _PERCENTILE.fullmatch(self.statistic) is not None,
            "statistic",
            f"must be one of {', '.join(STATISTICS)} or a percentile such as p99; got {self.statistic!r}",
        )
        _require(self.percentile != 0, "statistic", "p0 is no percentile; use min")
        _seconds(self.window, "window")
        _seconds(self.evaluate_every, "evaluate_every")
        _positive_int(self.max_samples, "max_samples", at_most=10_000_000)

    @property
    def percentile(self) -> float | None:
        found = _PERCENTILE.fullmatch(self.statistic)
        return float(found.group(1)) if found else None


@dataclass(frozen=True, kw_only=True)
class AbsentRule(RuleBase):
    """No event matching ``match`` (and ``where``) for ``after`` seconds: an incident of
    ``severity`` until one comes. With no ``key_fields`` the rule watches the glob as a
    whole from the engine's start; with key fields, each key from its first event on."""

    match: str
    after: float
    where: dict[str, str] = dataclasses.field(default_factory=dict)
    key_fields: tuple[str, ...] = ()
    severity: Problem = "critical"

    kind: ClassVar[RuleKind] = "absent"

    def __post_init__(self) -> None:
        super().__post_init__()
        _glob(self.match, "match")
        _seconds(self.after, "after")
        _where(self.where)
        _key_fields(self.key_fields)
        _require(
            self.severity in ("warning", "critical", "unknown"), "severity", "must be warning, critical or unknown"
        )


@dataclass(frozen=True, kw_only=True)
class RatioRule(RuleBase, Confirmation, Bounds):
    """One kind of event's rate over another's in the last ``window`` seconds, per key
    fields: the 5xx responses (``numerator`` glob, ``numerator_where = { status = "5*" }``)
    over all of them (``denominator``). Each event counts ``field`` (a number: ``count``
    for aggregated counters, ``value`` for statsd's) or 1 when ``field`` is empty. Below
    ``min_volume`` in the denominator's window there is no verdict (ok): 3 requests at
    night do not page. Evaluated as threshold rules are (``evaluate_every``...); each
    side's window is 60 buckets, as a threshold's sums."""

    numerator: str
    denominator: str
    numerator_where: dict[str, str] = dataclasses.field(default_factory=dict)
    denominator_where: dict[str, str] = dataclasses.field(default_factory=dict)
    key_fields: tuple[str, ...] = ("host",)
    field: str = ""
    window: float = 300.0
    min_volume: float = 100.0
    evaluate_every: float = 10.0

    kind: ClassVar[RuleKind] = "ratio"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_confirmation()
        self._check_bounds()
        _glob(self.numerator, "numerator")
        _glob(self.denominator, "denominator")
        _where(self.numerator_where, "numerator_where")
        _where(self.denominator_where, "denominator_where")
        _key_fields(self.key_fields)
        _require(isinstance(self.field, str), "field", "must name a field, or be empty: each event counts 1")
        _seconds(self.window, "window")
        ok = isinstance(self.min_volume, int | float) and math.isfinite(self.min_volume) and self.min_volume >= 0
        _require(ok, "min_volume", f"must be 0 or more, got {self.min_volume!r}")
        _seconds(self.evaluate_every, "evaluate_every")


AlertRule = HeartbeatRule | StatusRule | ThresholdRule | AbsentRule | RatioRule
#: Each kind's options, by the name the configuration's ``kind`` key gives.
RULE_TYPES: dict[str, type[AlertRule]] = {
    "heartbeat": HeartbeatRule,
    "status": StatusRule,
    "threshold": ThresholdRule,
    "absent": AbsentRule,
    "ratio": RatioRule,
}


def check_rules(rules: Iterable[AlertRule]) -> tuple[AlertRule, ...]:
    """``rules`` as a tuple, each name once (an incident's key starts with its rule's name)."""
    rules = tuple(rules)
    seen: set[str] = set()
    for rule in rules:
        _require(isinstance(rule, RuleBase), "rules", f"{rule!r} is not a rule")
        _require(rule.name not in seen, "name", f"two rules are named {rule.name!r}")
        seen.add(rule.name)
    return rules
