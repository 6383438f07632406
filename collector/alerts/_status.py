"""The status rule: the ``status`` field any event may carry, Nagios-style.

Strategy: a key (name and key fields) has state only while it is not well, so the
common case, an ``ok`` of a key that was ok, is one dict miss. ``ok`` and ``okay`` (the
emitter's word, which numbat-analyzer did not take) are well; ``warning``, ``critical``
and ``unknown`` are not; any case, and Nagios's exit codes 0-3 too. Another word is
counted (``bad status``) and ignored. ``for`` is confirmed per key (_confirm.py); a key
that says nothing for ``expire`` seconds (twice its event's ``ttl`` when it gave one)
is resolved and forgotten.
"""

from __future__ import annotations

from typing import Any

from emitter.event import Event

from ._confirm import SEVERITIES, Runs
from ._incidents import Subject
from ._rules import StatusRule, glob_matcher, ms
from ._watch import ConfirmingWatcher, Context, Handler, Key, describe, earliest, incident_key, key_reader, text

#: A status's level (_confirm.py), by the words and numbers it comes as.
STATUS_LEVELS: dict[object, int] = {
    "ok": 0, "okay": 0, "warning": 1, "warn": 1, "unknown": 2, "critical": 3,
    0: 0, 1: 1, 2: 3, 3: 2,  # Nagios: 0 ok, 1 warning, 2 critical, 3 unknown
}  # fmt: skip
#: An event's ttl past this (a year, in ms) is a unit mistake: the rule's expiry then.
MAX_TTL_MS = 366 * 86_400_000


class Check:
    __slots__ = ("due", "expires", "runs", "subject", "summary", "value", "verdict")

    def __init__(self, subject: Subject) -> None:
        self.subject = subject
        self.runs: Runs | None = None
        self.verdict = 0
        self.due: int | None = None
        self.expires: int | None = None
        self.summary = ""
        self.value: float | None = None


class StatusWatcher(ConfirmingWatcher):
    kind = "status"

    def __init__(self, rule: StatusRule, context: Context) -> None:
        super().__init__(rule, context)
        self.fields = rule.key_fields
        self.expire_ms = ms(rule.expire)
        self._key = key_reader(rule.key_fields)
        self._match = glob_matcher(rule.match).match
        self.states: dict[Key, Check] = {}

    def status_handler(self, name: str) -> Handler | None:
        return self.on_status if self._match(name) else None

    def _subject(self, key: Key) -> Subject:
        name, values = key[0], key[1:]
        labels = tuple(sorted((("name", name), *zip(self.fields, values, strict=True))))
        return Subject(incident_key(self.name, name, self.fields, values), labels, self.policy)

    def on_status(self, event: Event, name: str, now_ms: int) -> None:
        status = event.get("status")
        if status.__class__ is str:
            level = STATUS_LEVELS.get(status)
            if level is None:
                level = STATUS_LEVELS.get(status.lower())
        else:
            level = STATUS_LEVELS.get(status) if status.__class__ is int else None
        if level is None:
            self.refuse("bad status")
            return
        key = (name, *self._key(event))
        check = self.states.get(key)
        if check is None:
            if level == 0:
                return
            if self.full():
                return
            check = self.states[key] = Check(self._subject(key))
        value = event.get("value")
        check.value = float(value) if value.__class__ in (int, float) and value - value == 0 else None
        check.summary = self._summary(check, status, event)
        details = (("description", text(event.get("description"))),) if event.get("description") else ()
        expire = self.expire_ms
        if expire:
            ttl = event.get("ttl")
            if ttl.__class__ in (int, float) and 1 <= ttl <= MAX_TTL_MS:
                expire = int(ttl) * 2
        check.expires = now_ms + expire if expire else None
        self.evaluate(
            check, key, level, now_ms, counted=True, summary=check.summary, value=check.value, details=details
        )
        if level == 0:
            del self.states[key]  # well, and every run ended: nothing to keep
        elif check.expires is not None and (check.due is None or check.expires < check.due):
            check.due = check.expires
            self.timers.push(check.due, self.name, key)

    def _summary(self, check: Check, status: object, event: Event) -> str:
        labels = describe(check.subject.labels)
        where = f" on {labels}" if labels else ""
        description = event.get("description")
        said = f": {description}" if description else ""
        word = status.lower() if isinstance(status, str) else SEVERITIES[STATUS_LEVELS[status]]  # Nagios's codes
        return f"{dict(check.subject.labels).get('name', '')}{where} is {word}{said}"

    def fire(self, key: Key, due_ms: int, now_ms: int) -> None:
        check = self.states.get(key)
        if check is None or check.due != due_ms:
            return
        check.due = None
        if check.expires is not None and check.expires <= due_ms:
            if check.verdict:
                labels = describe(check.subject.labels)
                summary = f"{dict(check.subject.labels).get('name', '')}{' on ' + labels if labels else ''}: no status"
                self.book.report(check.subject, due_ms, "ok", f"{summary} since {check.summary!r}, expired")
            del self.states[key]
            return
        self.recheck(check, due_ms)
        due = earliest(check.expires, self.confirm_due(check, due_ms))
        if due is not None:
            check.due = due
            self.timers.push(due, self.name, key)

    def dump(self) -> list[dict[str, Any]]:
        return [
            {
                "key": list(key),
                "runs": None if c.runs is None else c.runs.dump(),
                "verdict": c.verdict,
                "due": c.due,
                "expires": c.expires,
                "summary": c.summary,
                "value": c.value,
            }
            for key, c in sorted(self.states.items())
        ]

    def load(self, items: list[dict[str, Any]], shift_ms: int) -> None:
        for key, item in self.saved(items, len(self.fields) + 1):
            check = Check(self._subject(key))
            check.runs = None if item["runs"] is None else Runs.load(item["runs"])
            check.verdict = int(item["verdict"])
            check.expires = None if item["expires"] is None else int(item["expires"]) + shift_ms
            due = item["due"]
            if due is not None:
                due = int(due) + (shift_ms if due == item["expires"] else 0)
            check.due = due
            check.summary = item["summary"]
            check.value = item["value"]
            self.states[key] = check
            if due is not None:
                self.timers.push(due, self.name, key)
