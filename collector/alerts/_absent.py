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
from ._watch import (
    Context,
    Deadline,
    DeadlineWatcher,
    Handler,
    Key,
    describe,
    incident_key,
    key_reader,
    seconds,
    where_filter,
)


class AbsentWatcher(DeadlineWatcher):
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

    def handlers(self, name: str) -> list[Handler]:
        return [self.on_event] if self._match(name) else []

    def _subject(self, key: Key) -> Subject:
        labels = tuple(sorted(zip(self.fields, key, strict=True)))
        return Subject(incident_key(self.name, self.glob, self.fields, key), labels, self.policy)

    def start(self, now_ms: int) -> None:
        if not self.fields and () not in self.states:
            self._watch((), now_ms, self.after_ms)

    def on_event(self, event: Event, name: str, now_ms: int) -> None:
        where = self._where
        if where is not None and not where(event):
            return
        key = self._key(event)
        watch = self.states.get(key)
        if watch is None:
            self._watch(key, now_ms, self.after_ms)
        else:
            self.seen(key, watch, now_ms, self.after_ms)

    def _what(self, watch: Deadline) -> str:
        where = describe(watch.subject.labels)
        return f"{self.glob}{' on ' + where if where else ''}"

    def _back(self, watch: Deadline) -> str:
        return f"{self._what(watch)}: seen again"

    def _missing(self, watch: Deadline, at_ms: int) -> str:
        return f"no {self._what(watch)} for {seconds(at_ms - watch.last)}"

    def dump(self) -> list[dict[str, Any]]:
        return [{"key": list(key), **self.dumped(watch)} for key, watch in sorted(self.states.items())]

    def load(self, items: list[dict[str, Any]], shift_ms: int) -> None:
        for key, item in self.saved(items, len(self.fields)):
            self.restore(key, item, shift_ms, self.after_ms)
