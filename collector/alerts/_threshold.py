"""The threshold and ratio rules: a statistic of a window of samples against bounds.

Strategy: a key (threshold: the name and key fields; ratio: the key fields) keeps a
window (_windows.py) and, only while it breaches or is confirming a breach, its runs
(_confirm.py). Each matching event adds its sample and evaluates the key: a window
update, a statistic and four comparisons when all is well. A key's one timer re-arms
itself every ``evaluate_every`` while events come (the entry fires, sees a newer
evaluation and moves on); when none came for that long it evaluates the aged window
(counted for ``for_seconds`` but not as one of ``for_evaluations``: no check ran), and
an empty window means no data: the key is resolved and forgotten. ``for_seconds``
brings the timer forward to when a breach will have lasted long enough.

A ratio's two windows (sums) hold each side's weights (1 per event, or ``field``); under
``min_volume`` in the denominator there is no verdict, which is ok.
"""

from __future__ import annotations

from typing import Any

from emitter.event import Event

from ._confirm import Runs
from ._incidents import Subject
from ._rules import RatioRule, ThresholdRule, glob_matcher, level_of, ms
from ._watch import (
    ConfirmingWatcher,
    Context,
    Handler,
    Key,
    describe,
    earliest,
    incident_key,
    key_reader,
    text,
    where_filter,
)
from ._windows import BucketWindow, Drops, Window, window_for

_NUMBERS = (int, float)


class Series:
    __slots__ = ("due", "evaluated", "runs", "subject", "value", "verdict", "window")

    def __init__(self, subject: Subject, window: Window, now_ms: int) -> None:
        self.subject = subject
        self.window = window
        self.runs: Runs | None = None
        self.verdict = 0
        self.evaluated = now_ms  # the last evaluation, by an event or a timer
        self.due: int | None = None
        self.value: float | None = None  # the statistic, as last evaluated


class Pair:
    __slots__ = ("denominator", "due", "evaluated", "numerator", "runs", "subject", "value", "verdict")

    def __init__(self, subject: Subject, numerator: BucketWindow, denominator: BucketWindow, now_ms: int) -> None:
        self.subject = subject
        self.numerator = numerator
        self.denominator = denominator
        self.runs: Runs | None = None
        self.verdict = 0
        self.evaluated = now_ms
        self.due: int | None = None
        self.value: float | None = None


class WindowedWatcher(ConfirmingWatcher):
    """The timers threshold and ratio rules share: idle re-evaluation and confirmation."""

    def __init__(self, rule: ThresholdRule | RatioRule, context: Context) -> None:
        super().__init__(rule, context)
        self.fields = rule.key_fields
        self.window_ms = ms(rule.window)
        self.every_ms = ms(rule.evaluate_every)
        self.limits = rule.limits()

    def measure(self, state: Any, at_ms: int) -> tuple[bool, float | None]:
        """(whether the key has data, its value) at ``at_ms``, its windows aged."""
        raise NotImplementedError

    def summary(self, state: Any, level: int) -> str:
        raise NotImplementedError

    def fire(self, key: Key, due_ms: int, now_ms: int) -> None:
        state = self.states.get(key)
        if state is None or state.due != due_ms:
            return
        state.due = None
        if state.evaluated + self.every_ms <= due_ms:
            has_data, value = self.measure(state, due_ms)
            if not has_data:
                if state.verdict:
                    self.book.report(state.subject, due_ms, "ok", f"{self._who(state)}: no data")
                del self.states[key]
                return
            state.value = value
            state.evaluated = due_ms
            level = 0 if value is None else level_of(value, self.limits)
            self.evaluate(state, key, level, due_ms, counted=False, summary=self.summary(state, level), value=value)
        else:
            self.recheck(state, due_ms)
        due = earliest(state.evaluated + self.every_ms, self.confirm_due(state, due_ms))
        if due is not None and due != state.due:
            state.due = due
            self.timers.push(due, self.name, key)

    def _who(self, state: Any) -> str:
        labels = state.subject.labels
        where = describe(labels)
        return f"{dict(labels).get('name', self.name)}{' on ' + where if where else ''}"

    def _bound(self, level: int, value: float) -> str:
        rule = self.rule
        assert isinstance(rule, ThresholdRule | RatioRule)
        if level == 3:
            above = rule.critical_above is not None and value > rule.critical_above
            return f"critical {'above ' + str(rule.critical_above) if above else 'below ' + str(rule.critical_below)}"
        if level == 1:
            above = rule.warning_above is not None and value > rule.warning_above
            return f"warning {'above ' + str(rule.warning_above) if above else 'below ' + str(rule.warning_below)}"
        return "within bounds"

    def _dump_common(self, state: Any) -> dict[str, Any]:
        return {
            "runs": None if state.runs is None else state.runs.dump(),
            "verdict": state.verdict,
            "due": state.due,
            "evaluated": state.evaluated,
            "value": state.value,
        }

    def _load_common(self, state: Any, item: dict[str, Any]) -> None:
        state.runs = None if item["runs"] is None else Runs.load(item["runs"])
        state.verdict = int(item["verdict"])
        state.due = None if item["due"] is None else int(item["due"])
        state.evaluated = int(item["evaluated"])
        state.value = item["value"]


class ThresholdWatcher(WindowedWatcher):
    kind = "threshold"

    def __init__(self, rule: ThresholdRule, context: Context) -> None:
        super().__init__(rule, context)
        self.field = rule.field
        self.statistic = rule.statistic
        self.percentile = rule.percentile
        self.max_samples = rule.max_samples
        self.drops = self.stats.samples_dropped.setdefault(rule.name, Drops())
        self._match = glob_matcher(rule.match).match
        self._where = where_filter(rule.where)
        self._key = key_reader(rule.key_fields)
        self._only_field = rule.key_fields[0] if len(rule.key_fields) == 1 else None  # the usual case, inline
        self.states: dict[Key, Series] = {}

    def handlers(self, name: str) -> list[Handler]:
        return [self.on_event] if self._match(name) else []

    def _subject(self, key: Key) -> Subject:
        name, values = key[0], key[1:]
        labels = tuple(sorted((("name", name), *zip(self.fields, values, strict=True))))
        return Subject(incident_key(self.name, name, self.fields, values), labels, self.policy)

    def _window(self) -> Window:
        return window_for(self.statistic, self.window_ms, self.max_samples, self.percentile, self.drops)

    def on_event(self, event: Event, name: str, now_ms: int) -> None:
        where = self._where
        if where is not None and not where(event):
            return
        value = event.get(self.field)
        if value.__class__ not in _NUMBERS or value - value != 0:
            self.refuse("no field" if value is None else "not a number")
            return
        field = self._only_field
        if field is None:
            key = (name, *self._key(event))
        else:
            part = event.get(field)
            key = (name, part if part.__class__ is str else text(part))
        series = self.states.get(key)
        if series is None:
            if self.full():
                return
            series = self.states[key] = Series(self._subject(key), self._window(), now_ms)
            series.due = now_ms + self.every_ms
            self.timers.push(series.due, self.name, key)
        series.evaluated = now_ms
        measured = series.value = series.window.update(now_ms, float(value))
        critical_above, critical_below, warning_above, warning_below = self.limits
        if measured > critical_above or measured < critical_below:
            level = 3
        elif measured > warning_above or measured < warning_below:
            level = 1
        elif series.runs is None:
            return  # well, and was
        else:
            level = 0
        self.evaluate(series, key, level, now_ms, counted=True, summary=self.summary(series, level), value=measured)

    def measure(self, state: Series, at_ms: int) -> tuple[bool, float | None]:
        state.window.expire(at_ms)
        value = state.window.value()
        return value is not None, value

    def summary(self, state: Series, level: int) -> str:
        value = state.value
        measured = f"{self.statistic} of {self.field} over {self.window_ms / 1000:g} s"
        if value is None:
            return f"{self._who(state)}: {measured}: no data"
        return f"{self._who(state)}: {measured} is {value:g} ({self._bound(level, value)})"

    def dump(self) -> list[dict[str, Any]]:
        return [
            {"key": list(key), "window": s.window.dump(), **self._dump_common(s)}
            for key, s in sorted(self.states.items())
        ]

    def load(self, items: list[dict[str, Any]], shift_ms: int) -> None:
        for key, item in self.saved(items, len(self.fields) + 1):
            series = Series(self._subject(key), self._window(), 0)
            series.window.load(item["window"])
            self._load_common(series, item)
            self.states[key] = series
            if series.due is not None:
                self.timers.push(series.due, self.name, key)


class RatioWatcher(WindowedWatcher):
    kind = "ratio"

    def __init__(self, rule: RatioRule, context: Context) -> None:
        super().__init__(rule, context)
        self.field = rule.field
        self.min_volume = rule.min_volume
        self._numerator = glob_matcher(rule.numerator).match
        self._denominator = glob_matcher(rule.denominator).match
        self._numerator_where = where_filter(rule.numerator_where)
        self._denominator_where = where_filter(rule.denominator_where)
        self._key = key_reader(rule.key_fields)
        self.states: dict[Key, Pair] = {}

    def handlers(self, name: str) -> list[Handler]:
        numerator = self._numerator(name) is not None
        denominator = self._denominator(name) is not None
        if not (numerator or denominator):
            return []
        return [self._handler(numerator, denominator)]

    def _handler(self, numerator: bool, denominator: bool) -> Handler:
        def handle(event: Event, name: str, now_ms: int) -> None:
            self.on_event(event, now_ms, numerator, denominator)

        return handle

    def _subject(self, key: Key) -> Subject:
        labels = tuple(sorted(zip(self.fields, key, strict=True)))
        return Subject(incident_key(self.name, self.rule_numerator, self.fields, key), labels, self.policy)

    @property
    def rule_numerator(self) -> str:
        rule = self.rule
        assert isinstance(rule, RatioRule)
        return rule.numerator

    def _new(self, key: Key, now_ms: int) -> Pair:
        window = self.window_ms
        return Pair(self._subject(key), BucketWindow(window, "sum"), BucketWindow(window, "sum"), now_ms)

    def on_event(self, event: Event, now_ms: int, numerator: bool, denominator: bool) -> None:
        if numerator and self._numerator_where is not None:
            numerator = self._numerator_where(event)
        if denominator and self._denominator_where is not None:
            denominator = self._denominator_where(event)
        if not (numerator or denominator):
            return
        weight: Any = 1.0
        if self.field:
            weight = event.get(self.field)
            if weight.__class__ not in _NUMBERS or weight - weight != 0:
                self.refuse("no field" if weight is None else "not a number")
                return
        key = self._key(event)
        pair = self.states.get(key)
        if pair is None:
            if self.full():
                return
            pair = self.states[key] = self._new(key, now_ms)
            pair.due = now_ms + self.every_ms
            self.timers.push(pair.due, self.name, key)
        if numerator:
            pair.numerator.add(now_ms, float(weight))
        if denominator:
            pair.denominator.add(now_ms, float(weight))
        _, value = self.measure(pair, now_ms)
        pair.value = value
        pair.evaluated = now_ms
        level = 0 if value is None else level_of(value, self.limits)
        if level == 0 and pair.runs is None:
            return
        self.evaluate(pair, key, level, now_ms, counted=True, summary=self.summary(pair, level), value=value)

    def measure(self, state: Pair, at_ms: int) -> tuple[bool, float | None]:
        numerator, denominator = state.numerator, state.denominator
        numerator.expire(at_ms)
        denominator.expire(at_ms)
        if numerator.empty() and denominator.empty():
            return False, None
        volume = denominator.sum
        if volume <= 0 or volume < self.min_volume:
            return True, None
        return True, numerator.sum / volume

    def summary(self, state: Pair, level: int) -> str:
        rule = self.rule
        assert isinstance(rule, RatioRule)
        who = f"{rule.numerator} / {rule.denominator}"
        where = describe(state.subject.labels)
        who += f" on {where}" if where else ""
        counts = f"{state.numerator.sum:g} of {state.denominator.sum:g} in {self.window_ms / 1000:g} s"
        if state.value is None:
            return f"{who}: {counts}, under min_volume {self.min_volume:g}"
        return f"{who} is {state.value:.4g}: {counts} ({self._bound(level, state.value)})"

    def dump(self) -> list[dict[str, Any]]:
        return [
            {
                "key": list(key),
                "numerator": p.numerator.dump(),
                "denominator": p.denominator.dump(),
                **self._dump_common(p),
            }
            for key, p in sorted(self.states.items())
        ]

    def load(self, items: list[dict[str, Any]], shift_ms: int) -> None:
        for key, item in self.saved(items, len(self.fields)):
            pair = self._new(key, 0)
            pair.numerator.load(item["numerator"])
            pair.denominator.load(item["denominator"])
            self._load_common(pair, item)
            self.states[key] = pair
            if pair.due is not None:
                self.timers.push(pair.due, self.name, key)
