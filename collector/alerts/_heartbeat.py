"""The heartbeat rule: services that say they are alive, and the silence when they stop.

Strategy: one :class:`~._watch.Deadline` per (app, key fields), its period the ttl
(_watch.py's :class:`~._watch.DeadlineWatcher` keeps the deadlines, as for the absent
rule). A heartbeat moves its deadline to now + ttl and nothing else (the timer already
in the heap fires at the old deadline, sees the new one and re-arms), so 10k services
beating cost a dict lookup each. At the deadline the key is missed: critical (the
rule's severity) at that moment, and one more miss each ttl after, which is what
``remediate_after`` counts; a clock that jumps counts the misses it skipped without a
timer for each. The next heartbeat resolves it; a
shutdown event resolves it and forgets the key.

The app is the event's name up to its last dot (``web.heartbeat`` → ``web``); the
incident key is ``rule/app/host=...``. The ttl is the event's ``ttl`` in milliseconds
(numbat's field), else the rule's ``default_ttl``; a ttl that is no positive number is
counted (``bad ttl``) and the default used.
"""

from __future__ import annotations

from typing import Any

from emitter.event import Event

from ._incidents import Subject
from ._rules import HeartbeatRule, glob_matcher, ms
from ._watch import Context, Deadline, DeadlineWatcher, Handler, Key, describe, incident_key, key_reader, seconds

#: A ttl past this (a year, in ms) is a unit mistake, not a promise.
MAX_TTL_MS = 366 * 86_400_000


class HeartbeatWatcher(DeadlineWatcher):
    kind = "heartbeat"

    def __init__(self, rule: HeartbeatRule, context: Context) -> None:
        super().__init__(rule, context)
        self.fields = rule.key_fields
        self.severity = rule.severity
        self.default_ttl = ms(rule.default_ttl)
        self._key = key_reader(rule.key_fields)
        self._beats_match = glob_matcher(rule.match).match
        self._shutdown_match = glob_matcher(rule.shutdown_match).match

    def handlers(self, name: str) -> list[Handler]:
        found: list[Handler] = []
        if self._beats_match(name):
            found.append(self.beat)
        if self._shutdown_match(name):
            found.append(self.shutdown)
        return found

    def _subject(self, key: Key) -> Subject:
        app, values = key[0], key[1:]
        labels = tuple(sorted((("app", app), *zip(self.fields, values, strict=True))))
        return Subject(incident_key(self.name, app, self.fields, values), labels, self.policy)

    def beat(self, event: Event, name: str, now_ms: int) -> None:
        ttl = event.get("ttl")
        if ttl is None:
            ttl_ms = self.default_ttl
        elif ttl.__class__ in (int, float) and 1 <= ttl <= MAX_TTL_MS:
            ttl_ms = int(ttl)
        else:
            self.refuse("bad ttl")
            ttl_ms = self.default_ttl
        key = (name.rpartition(".")[0], *self._key(event))
        beat = self.states.get(key)
        if beat is None:
            self._watch(key, now_ms, ttl_ms)
        else:
            self.seen(key, beat, now_ms, ttl_ms)

    def shutdown(self, event: Event, name: str, now_ms: int) -> None:
        key = (name.rpartition(".")[0], *self._key(event))
        beat = self.states.pop(key, None)
        if beat is not None and beat.misses:
            self.book.report(beat.subject, now_ms, "ok", f"{self._who(beat)} shut down")

    def _who(self, beat: Deadline) -> str:
        labels = beat.subject.labels
        app = dict(labels).get("app", "")
        who = describe(labels, skip="app")
        return f"{app or '(no app)'}{' on ' + who if who else ''}"

    def _missing(self, beat: Deadline, at_ms: int) -> str:
        return f"{self._who(beat)}: no heartbeat for {seconds(at_ms - beat.last)} (ttl {seconds(beat.period)})"

    def _back(self, beat: Deadline) -> str:
        return f"{self._who(beat)}: heartbeat back"

    def dump(self) -> list[dict[str, Any]]:
        return [
            {"key": list(key), "ttl": beat.period, **self.dumped(beat)} for key, beat in sorted(self.states.items())
        ]

    def load(self, items: list[dict[str, Any]], shift_ms: int) -> None:
        for key, item in self.saved(items, len(self.fields) + 1):
            self.restore(key, item, shift_ms, int(item["ttl"]))
