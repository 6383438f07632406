"""The absent rule: no event matching a glob for a while.

Strategy: as heartbeats (_heartbeat.py), with the rule's ``after`` as every key's ttl:
an event moves the key's deadline and nothing else; at the deadline the key is absent
(the rule's severity), one more miss each ``after`` (for ``remediate_after``), and the
next event resolves it. Without key fields the rule has one key, ``()``, watched from
the engine's first clock reading; with key fields, each key from its first event. The
incident key is ``rule/<the glob>`` and the key fields.
"""

from __future__ import annotations

from typing import Any

from emitter.event import Event

from ._incidents import Subject
from ._rules import AbsentRule, glob_matcher, ms
from ._watch import Context, Handler, Key, Watcher, describe, incident_key, key_reader, seconds, where_filter


class Watch:
    __slots__ = ("deadline", "due", "last", "misses", "subject")

    def __init__(self, subject: Subject, last: int, after: int) -> None:
        self.subject = subject
        self.last = last  # the last event (or the start of the watch)
        self.deadline = last + after
        self.due = self.deadline
        self.misses = 0


class AbsentWatcher(Watcher):
    kind = "absent"

    def __init__(self, rule: AbsentRule, context: Context) -> None:
        super().__init__(rule, context)
        self.fields = rule.key_fields
        self.glob = rule.match
        self.after_ms = ms(rule.after)
        self.severity = rule.severity
        self._match = glob_matcher(rule.match).match
        self._where = where_filter(rule.where)
        self._key = key_reader(rule.key_fields)
        self.states: dict[Key, Watch] = {}

    def handlers(self, name: str) -> list[Handler]:
        return [self.on_event] if self._match(name) else []

    def _subject(self, key: Key) -> Subject:
        labels = tuple(sorted(zip(self.fields, key, strict=True)))
        return Subject(incident_key(self.name, self.glob, self.fields, key), labels, self.policy)

    def _watch(self, key: Key, now_ms: int) -> Watch | None:
        if self.full():
            return None
        watch = self.states[key] = Watch(self._subject(key), now_ms, self.after_ms)
        self.timers.push(watch.due, self.name, key)
        return watch

    def start(self, now_ms: int) -> None:
        if not self.fields and () not in self.states:
            self._watch((), now_ms)

    def on_event(self, event: Event, name: str, now_ms: int) -> None:
        where = self._where
        if where is not None and not where(event):
            return
        key = self._key(event)
        watch = self.states.get(key)
        if watch is None:
            self._watch(key, now_ms)
            return
        watch.last = now_ms
        deadline = watch.deadline = now_ms + self.after_ms
        if watch.misses:
            watch.misses = 0
            self.book.report(watch.subject, now_ms, "ok", f"{self._what(watch)}: seen again")
        if deadline < watch.due:  # ``after`` shortened by a reload
            watch.due = deadline
            self.timers.push(deadline, self.name, key)

    def fire(self, key: Key, due_ms: int, now_ms: int) -> None:
        watch = self.states.get(key)
        if watch is None or watch.due != due_ms:
            return
        if watch.deadline > due_ms:
            watch.due = watch.deadline
            self.timers.push(watch.due, self.name, key)
            return
        after = self.after_ms
        missed = (now_ms - due_ms) // after + 1
        before = watch.misses
        watch.misses += missed
        watch.due = due_ms + missed * after
        self.timers.push(watch.due, self.name, key)
        self.book.report(watch.subject, due_ms, self.severity, self._missing(watch, due_ms))
        remediate_after = self.rule.remediate_after
        if remediate_after is not None and before < remediate_after <= watch.misses:
            at = due_ms + (remediate_after - before - 1) * after
            self.book.remediate(watch.subject, at, self.severity, self._missing(watch, at))

    def _what(self, watch: Watch) -> str:
        where = describe(watch.subject.labels)
        return f"{self.glob}{' on ' + where if where else ''}"

    def _missing(self, watch: Watch, at_ms: int) -> str:
        return f"no {self._what(watch)} for {seconds(at_ms - watch.last)}"

    def dump(self) -> list[dict[str, Any]]:
        return [
            {"key": list(key), "last": w.last, "deadline": w.deadline, "due": w.due, "misses": w.misses}
            for key, w in sorted(self.states.items())
        ]

    def load(self, items: list[dict[str, Any]], shift_ms: int) -> None:
        self.states.clear()
        for item in items:
            key = tuple(str(part) for part in item["key"])
            if len(key) != len(self.fields):
                continue
            watch = Watch(self._subject(key), int(item["last"]) + shift_ms, self.after_ms)
            watch.deadline = int(item["deadline"]) + shift_ms
            watch.due = int(item["due"]) + shift_ms
            watch.misses = int(item["misses"])
            self.states[key] = watch
            self.timers.push(watch.due, self.name, key)
