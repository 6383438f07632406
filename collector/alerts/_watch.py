"""What every rule's watcher shares: keys, labels, filters, and the ``for`` evaluation.

A watcher (one per rule; _heartbeat.py, _status.py, _threshold.py, _absent.py) keeps
one small state per key in a dict from a key tuple (of strings) to the state. It
tells the engine which of its handlers an event name needs (the engine caches that per
name), reports observed severities to the incident book, and keeps at most one live
timer per key in the engine's heap: ``state.due`` is that timer's time, and an entry
that does not match it is stale. A handler that needs a later time lets the old entry
fire and re-arms then (moving a deadline later costs nothing per event); one that needs
an earlier time pushes a new entry.

A key's values are the event's fields as text (absent: ""), so keys compare and sort,
which keeps the timers' order (and so the order of notifications) a function of the
events and the clock alone: a restored engine fires in the same order as the original.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from emitter.event import Event

from ._confirm import SEVERITIES, Runs
from ._incidents import IncidentBook, Policy, Subject
from ._model import Severity
from ._rules import AlertRule, Confirmation, glob_matcher, ms
from ._windows import Drops

Key = tuple[str, ...]
Handler = Callable[[Event, str, int], None]
Labels = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class EngineStats:
    """What the engine has counted since it started, for self-metrics."""

    events: int = 0
    unnamed: int = 0  # events without a string name: no rule can take them
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)  # (rule, reason): a field it cannot read
    keys_dropped: Counter[str] = field(default_factory=Counter)  # by rule: events of new keys past max_keys
    samples_dropped: dict[str, Drops] = field(default_factory=dict)  # by rule: pushed out of windows by max_samples
    failed: int = 0  # events that broke a rule's handler (a bug): counted, the stream goes on
    last_error: str = ""  # the last such failure, for the log


class Timers:
    """The engine's heap of ``(due, rule, key)``: what watchers schedule."""

    __slots__ = ("heap",)

    def __init__(self) -> None:
        self.heap: list[tuple[int, str, Key]] = []

    def push(self, due_ms: int, rule: str, key: Key) -> None:
        heapq.heappush(self.heap, (due_ms, rule, key))


class Context(Protocol):
    book: IncidentBook
    stats: EngineStats
    timers: Timers


def text(value: object) -> str:
    """A field's value as a key's text: a string as it is, nothing as ""."""
    if value.__class__ is str:
        return value
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def key_reader(fields: tuple[str, ...]) -> Callable[[Event], Key]:
    """A function from an event to its key fields' text, in the rule's order."""
    if not fields:
        return lambda event: ()
    if len(fields) == 1:
        (only,) = fields

        def one(event: Event) -> Key:
            value = event.get(only)
            return (value if value.__class__ is str else text(value),)

        return one
    return lambda event: tuple(text(event.get(name)) for name in fields)


def where_filter(where: Mapping[str, str]) -> Callable[[Event], bool] | None:
    """A test of an event's fields against ``where``'s globs (None when there are none)."""
    if not where:
        return None
    tests = [(name, glob_matcher(glob).match) for name, glob in where.items()]
    return lambda event: all(match(text(event.get(name))) is not None for name, match in tests)


def incident_key(rule: str, name: str, fields: tuple[str, ...], values: Key) -> str:
    """``rule/name/k=v...``, the key fields sorted: stable whatever the rule's order."""
    return f"{rule}/{name}" + "".join(f"/{k}={v}" for k, v in sorted(zip(fields, values, strict=True)))


def describe(labels: Labels, skip: str = "name") -> str:
    """The labels of a key for a summary: ``host=web-1 region=eu``."""
    return " ".join(f"{k}={v}" for k, v in labels if k != skip and v)


def seconds(duration_ms: int) -> str:
    """A duration for people: ``45 s``, ``1.5 s``."""
    return f"{duration_ms / 1000:g} s"


def policy_of(rule: AlertRule) -> Policy:
    return Policy(
        rule=rule.name,
        kind=rule.kind,
        flap_hold_ms=ms(rule.flap_hold),
        renotify_ms=ms(rule.renotify),
        remediation=rule.remediation,
        remediate_on_open=rule.remediate_after is None,
    )


class Watcher:
    """One rule's keys. Subclasses add the handlers and the timers' meaning."""

    kind: ClassVar[str]

    def __init__(self, rule: AlertRule, context: Context) -> None:
        self.rule = rule
        self.name = rule.name
        self.context = context
        self.book = context.book
        self.stats = context.stats
        self.timers = context.timers
        self.policy = policy_of(rule)
        self.max_keys = rule.max_keys
        self.states: dict[Key, Any] = {}  # each key's state (a subclass's own type); ``due``: its live timer

    def handlers(self, name: str) -> list[Handler]:
        """What this rule does with an event named ``name`` (none: it ignores it)."""
        return []

    def status_handler(self, name: str) -> Handler | None:
        """What it does with an event named ``name`` that carries a ``status``."""
        return None

    def start(self, now_ms: int) -> None:
        """The engine's clock has started (the first time it is handed one)."""

    def fire(self, key: Key, due_ms: int, now_ms: int) -> None:
        """A timer of ``key`` is due at ``due_ms`` (the engine's clock is at ``now_ms``)."""

    def dump(self) -> list[dict[str, Any]]:
        return []

    def load(self, items: list[dict[str, Any]], shift_ms: int) -> None:
        """The keys :meth:`dump` gave; ``shift_ms`` is how long the engine was down, to
        add to deadlines that measure silence (a service is not blamed for our absence)."""

    def __len__(self) -> int:
        return len(self.states)

    def live(self, key: Key, due_ms: int) -> bool:
        """Whether a timer of ``key`` at ``due_ms`` is the key's live one (else stale)."""
        state = self.states.get(key)
        return state is not None and state.due == due_ms

    def full(self) -> bool:
        """Whether a new key must be refused (and count it)."""
        if len(self) >= self.max_keys:
            self.stats.keys_dropped[self.name] += 1
            return True
        return False

    def refuse(self, reason: str) -> None:
        self.stats.refused[self.name, reason] += 1

    def saved(self, items: list[dict[str, Any]], key_length: int) -> list[tuple[Key, dict[str, Any]]]:
        """The saved states of :meth:`load`'s ``items`` with their keys, less those of keys
        of another length (the rule's key fields changed: those keys start again)."""
        self.states.clear()
        keyed = [(tuple(str(part) for part in item["key"]), item) for item in items]
        return [(key, item) for key, item in keyed if len(key) == key_length]


class Deadline:
    """A key that must be seen again within ``period``: a service's heartbeats, an absent
    rule's events."""

    __slots__ = ("deadline", "due", "last", "misses", "period", "subject")

    def __init__(self, subject: Subject, last: int, period: int) -> None:
        self.subject = subject
        self.last = last  # when it was last seen (or the start of the watch)
        self.period = period
        self.deadline = last + period
        self.due = self.deadline  # the live timer
        self.misses = 0


class DeadlineWatcher(Watcher):
    """A watcher whose keys each have a deadline (heartbeat, absent): a sighting moves it,
    and each period past it is one more miss, which ``remediate_after`` counts."""

    severity: Severity
    states: dict[Key, Deadline]

    def _back(self, state: Deadline) -> str:
        """The summary of a key seen again after a miss."""
        raise NotImplementedError

    def _missing(self, state: Deadline, at_ms: int) -> str:
        """The summary of a key missed at ``at_ms``."""
        raise NotImplementedError

    def _watch(self, key: Key, now_ms: int, period: int) -> Deadline | None:
        """A new key's deadline, None when the rule is full."""
        if self.full():
            return None
        state = self.states[key] = Deadline(self._subject(key), now_ms, period)
        self.timers.push(state.due, self.name, key)
        return state

    def _subject(self, key: Key) -> Subject:
        raise NotImplementedError

    def seen(self, key: Key, state: Deadline, now_ms: int, period: int) -> None:
        """``key`` seen at ``now_ms``: its deadline moves (the timer in the heap fires at
        the old one, sees the new one and re-arms); a key that was missed is back."""
        state.last = now_ms
        state.period = period
        deadline = state.deadline = now_ms + period
        if state.misses:
            state.misses = 0
            self.book.report(state.subject, now_ms, "ok", self._back(state))
        if deadline < state.due:  # a shorter period
            state.due = deadline
            self.timers.push(deadline, self.name, key)

    def fire(self, key: Key, due_ms: int, now_ms: int) -> None:
        state = self.states.get(key)
        if state is None or state.due != due_ms:
            return
        if state.deadline > due_ms:
            state.due = state.deadline
            self.timers.push(state.due, self.name, key)
            return
        # missed at due_ms, and at every period after it up to now
        period = state.period
        missed = (now_ms - due_ms) // period + 1
        before = state.misses
        state.misses += missed
        state.due = due_ms + missed * period
        self.timers.push(state.due, self.name, key)
        self.book.report(state.subject, due_ms, self.severity, self._missing(state, due_ms))
        after = self.rule.remediate_after
        if after is not None and before < after <= state.misses:
            at = due_ms + (after - before - 1) * period
            self.book.remediate(state.subject, at, self.severity, self._missing(state, at))

    @staticmethod
    def dumped(state: Deadline) -> dict[str, Any]:
        return {"last": state.last, "deadline": state.deadline, "due": state.due, "misses": state.misses}

    def restore(self, key: Key, item: dict[str, Any], shift_ms: int, period: int) -> None:
        """A key as :meth:`dumped` saved it, ``shift_ms`` later (the engine's downtime)."""
        state = self.states[key] = Deadline(self._subject(key), int(item["last"]) + shift_ms, period)
        state.deadline = int(item["deadline"]) + shift_ms
        state.due = int(item["due"]) + shift_ms
        state.misses = int(item["misses"])
        self.timers.push(state.due, self.name, key)


class Checked(Protocol):
    """A key's state under a confirmed rule."""

    subject: Subject
    runs: Runs | None
    verdict: int
    due: int | None


class ConfirmingWatcher(Watcher):
    """A watcher whose keys are evaluated (status, threshold, ratio): ``for`` and
    ``remediate_after`` on each evaluation (_confirm.py)."""

    def __init__(self, rule: AlertRule, context: Context) -> None:
        super().__init__(rule, context)
        assert isinstance(rule, Confirmation)
        self.for_ms = ms(rule.for_seconds)
        self.for_count = rule.for_evaluations
        self.remediate_after = rule.remediate_after

    def evaluate(
        self,
        state: Checked,
        key: Key,
        level: int,
        at_ms: int,
        *,
        counted: bool,
        summary: str,
        value: float | None = None,
        details: Labels = (),
    ) -> None:
        """One evaluation of ``state`` at ``level``: the verdict reported when it changes
        (and refreshed while it is a problem), the remediation asked for at its count."""
        runs = state.runs
        if runs is None:
            if level == 0:
                return
            runs = state.runs = Runs()
        failing = runs.failing
        runs.record(level, at_ms, counted)
        verdict = runs.verdict(at_ms, self.for_ms, self.for_count)
        if verdict or verdict != state.verdict:
            self.book.report(state.subject, at_ms, SEVERITIES[verdict], summary, value=value, details=details)
        state.verdict = verdict
        after = self.remediate_after
        if after is not None and failing < after <= runs.failing:
            self.book.remediate(state.subject, at_ms, SEVERITIES[level], summary, value=value, details=details)
        if runs.idle:
            state.runs = None
        elif self.for_ms:
            due = runs.confirm_due(at_ms, self.for_ms, self.for_count)
            if due is not None and (state.due is None or due < state.due):
                state.due = due
                self.timers.push(due, self.name, key)

    def recheck(self, state: Checked, at_ms: int) -> None:
        """The verdict at ``at_ms`` without a new evaluation: a run may have lasted
        ``for_seconds``. What the key last said stays what it says."""
        if state.runs is None:
            return
        verdict = state.runs.verdict(at_ms, self.for_ms, self.for_count)
        if verdict != state.verdict:
            state.verdict = verdict
            self.book.report(state.subject, at_ms, SEVERITIES[verdict], None)

    def confirm_due(self, state: Checked, at_ms: int) -> int | None:
        if state.runs is None or not self.for_ms:
            return None
        return state.runs.confirm_due(at_ms, self.for_ms, self.for_count)


def earliest(*times: int | None) -> int | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None
