"""The incident book: what the rules say about each key, turned into incidents and the
notifications about them. Sans-I/O: times are handed in, notifications are collected in
``out`` for the engine to return.

Strategy: one :class:`Track` per key that is not well or was lately notified. The rules
report a key's *observed* severity (:meth:`IncidentBook.report`); the book *decides* when
an observed change becomes the incident's state (opened: ``trigger``; severity changed:
``update``; well again: ``resolve``) and then notifies. Deduplication is the key: one
open incident per key, whatever the rule reports in between.

Flap damping: a change out of a state that had held ``flap_hold`` (a steady key) is
decided at once; a change out of a state that lasted less (the key is flapping) is
decided only once it has itself held ``flap_hold``. A check flapping faster than its
hold therefore pages once and stays quiet until it settles. While an incident is open
it is re-notified every ``renotify`` (if set).

Silences (a glob on the key, an end time) filter what the outputs see, never what is
decided: a silenced incident is open, listed and re-notified in the book, and its
notifications are dropped and counted. Its resolve goes out only if its trigger did (a
paging system closes what it opened). An incident opened under a silence is announced
(``trigger``) when the silence ends or is removed, if it is still open.

Timers (a decision waiting for its hold, a reminder, forgetting a key, a silence's end)
sit in a heap of ``(due, key, tag)``; an entry whose time no longer matches its track's
is stale and skipped, so moving a timer costs a push, never a search. The heap is not
part of a snapshot: a restore rebuilds it from the tracks.
"""

from __future__ import annotations

import heapq
import math
import re
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from fnmatch import translate
from typing import Any

from ._model import Action, Incident, Notification, Severity, Silence


@dataclass(frozen=True, slots=True)
class Policy:
    """A rule's say in its incidents: the parts of its options the book reads."""

    rule: str
    kind: str
    flap_hold_ms: int = 0
    renotify_ms: int = 0
    remediation: tuple[str, ...] = ()
    remediate_on_open: bool = False


@dataclass(frozen=True, slots=True)
class Subject:
    """A key a rule watches, as the book knows it."""

    key: str
    labels: tuple[tuple[str, str], ...]
    policy: Policy


@dataclass(slots=True)
class BookStats:
    """What the book has counted since it started, for self-metrics."""

    sent: Counter[str] = field(default_factory=Counter)  # notifications handed out, by action
    silenced: Counter[str] = field(default_factory=Counter)  # dropped under a silence, by action
    decided: Counter[str] = field(default_factory=Counter)  # decisions, by action (sent or not)


class Track:
    __slots__ = (
        "announced",
        "details",
        "forget_ms",
        "incident",
        "observed",
        "pending_ms",
        "renotify_ms",
        "since",
        "subject",
        "summary",
        "value",
    )

    def __init__(self, subject: Subject, since: int) -> None:
        self.subject = subject
        self.observed: Severity = "ok"
        self.since = since  # when ``observed`` began
        self.summary = ""
        self.value: float | None = None
        self.details: tuple[tuple[str, str], ...] = ()
        self.incident: Incident | None = None  # the open incident, as last decided
        self.announced = False  # its trigger went out (not silenced)
        self.pending_ms: int | None = None  # a decision waiting for the state to hold
        self.renotify_ms: int | None = None
        self.forget_ms: int | None = None


class _ActiveSilence:
    __slots__ = ("matcher", "silence")

    def __init__(self, silence: Silence) -> None:
        self.silence = silence
        self.matcher = re.compile(translate(silence.match))

    def covers(self, key: str, at_ms: int) -> bool:
        silence = self.silence
        return silence.created_ms <= at_ms < silence.ends_ms and self.matcher.match(key) is not None


class IncidentBook:
    """Every key's incident state, the silences and the timers between them. One task owns it."""

    def __init__(self, max_silences: int = 1_000) -> None:
        if max_silences < 0:
            raise ValueError("max_silences: must be 0 or more")
        self.max_silences = max_silences
        self.out: list[Notification] = []
        self.stats = BookStats()
        self._tracks: dict[str, Track] = {}
        self._silences: dict[str, _ActiveSilence] = {}
        self._timers: list[tuple[int, str, str]] = []
        self._orphans: list[str] = []  # keys of rules gone since a restore: resolved at the next run

    # -- what the rules say ------------------------------------------------------------

    def report(
        self,
        subject: Subject,
        at_ms: int,
        severity: Severity,
        summary: str | None,
        *,
        value: float | None = None,
        details: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """``subject``'s observed state at ``at_ms``; what it says (summary, value,
        details) is kept for the next notification even when the severity is unchanged
        (a None summary: what it said last stays)."""
        track = self._tracks.get(subject.key)
        if track is None:
            if severity == "ok":
                return
            track = self._tracks[subject.key] = Track(subject, at_ms - subject.policy.flap_hold_ms)  # ok, steady
        else:
            track.subject = subject
        if summary is not None:
            track.summary = summary
            track.value = value
            track.details = details
        if severity != track.observed:
            steady = at_ms - track.since >= subject.policy.flap_hold_ms
            track.observed = severity
            track.since = at_ms
            self._consider(track, at_ms, steady)

    def remediate(
        self,
        subject: Subject,
        at_ms: int,
        severity: Severity,
        summary: str,
        *,
        value: float | None = None,
        details: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Ask for ``subject``'s remediation command (the rule decided when): about its
        open incident, or one not (yet) open when the rule heals before it pages."""
        remediation = subject.policy.remediation
        if not remediation:
            return
        track = self._tracks.get(subject.key)
        incident = track.incident if track is not None else None
        if incident is not None:
            incident = replace(incident, summary=summary, value=value, details=details)
        else:
            incident = Incident(
                key=subject.key,
                rule=subject.policy.rule,
                kind=subject.policy.kind,
                severity=severity,
                summary=summary,
                labels=subject.labels,
                opened_ms=at_ms,
                updated_ms=at_ms,
                value=value,
                details=details,
            )
        self._send_remediation(incident, at_ms, remediation)

    def _consider(self, track: Track, at_ms: int, steady: bool) -> None:
        """The observed state changed at ``at_ms`` (``steady``: the one before had held
        ``flap_hold``), or has held since a damped change: decide now, or later."""
        current = track.incident.severity if track.incident is not None else "ok"
        if track.observed == current:
            track.pending_ms = None
            if current == "ok":
                self._forget_later(track, at_ms)
            return
        hold = track.subject.policy.flap_hold_ms
        if steady or track.since + hold <= at_ms:
            self._decide(track, at_ms)
        else:
            track.pending_ms = track.since + hold
            heapq.heappush(self._timers, (track.pending_ms, track.subject.key, "decide"))

    def _decide(self, track: Track, at_ms: int) -> None:
        subject = track.subject
        policy = subject.policy
        old = track.incident
        action: Action
        if old is None:
            incident = Incident(
                key=subject.key,
                rule=policy.rule,
                kind=policy.kind,
                severity=track.observed,
                summary=track.summary,
                labels=subject.labels,
                opened_ms=track.since,
                updated_ms=track.since,
                value=track.value,
                details=track.details,
            )
            track.incident, action = incident, "trigger"
        elif track.observed == "ok":
            incident = replace(
                old, severity="ok", summary=track.summary, value=track.value, details=track.details,
                resolved_ms=track.since,
            )  # fmt: skip
            track.incident, action = None, "resolve"
        else:
            incident = replace(
                old, severity=track.observed, updated_ms=track.since, summary=track.summary, value=track.value,
                details=track.details,
            )  # fmt: skip
            track.incident, action = incident, "update"
        track.pending_ms = None
        self.stats.decided[action] += 1
        if track.incident is not None and policy.renotify_ms:
            track.renotify_ms = at_ms + policy.renotify_ms
            heapq.heappush(self._timers, (track.renotify_ms, subject.key, "renotify"))
        else:
            track.renotify_ms = None
        self._notify(track, action, incident, at_ms)
        if action == "trigger" and policy.remediate_on_open and policy.remediation:
            self._send_remediation(incident, at_ms, policy.remediation)
        if action == "resolve":
            self._forget_later(track, at_ms)

    def _forget_later(self, track: Track, at_ms: int) -> None:
        """A well key is kept until it is steady (its next change is decided at once, as
        a key the book does not know)."""
        steady_ms = track.since + track.subject.policy.flap_hold_ms
        if at_ms >= steady_ms:
            del self._tracks[track.subject.key]
        else:
            track.forget_ms = steady_ms
            heapq.heappush(self._timers, (steady_ms, track.subject.key, "forget"))

    # -- what goes out -------------------------------------------------------------------

    def _notify(self, track: Track, action: Action, incident: Incident, at_ms: int) -> None:
        if action == "resolve":
            if track.announced:
                track.announced = False
                self._send(Notification("resolve", incident, at_ms))
            else:
                self.stats.silenced[action] += 1
            return
        if self.silenced(incident.key, at_ms):
            self.stats.silenced[action] += 1
            return
        if not track.announced:
            track.announced = True
            action = "trigger"
        self._send(Notification(action, incident, at_ms))

    def _send_remediation(self, incident: Incident, at_ms: int, remediation: tuple[str, ...]) -> None:
        if self.silenced(incident.key, at_ms):
            self.stats.silenced["remediate"] += 1
        else:
            self._send(Notification("remediate", incident, at_ms, remediation))

    def _send(self, notification: Notification) -> None:
        self.stats.sent[notification.action] += 1
        self.out.append(notification)

    # -- time ------------------------------------------------------------------------------

    def next_due(self) -> int | None:
        """The time of the next timer, or None (stale entries on top are dropped)."""
        timers = self._timers
        while timers and not self._live(*timers[0]):
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    def _live(self, due: int, key: str, tag: str) -> bool:
        if tag == "silence":
            active = self._silences.get(key)
            return active is not None and active.silence.ends_ms == due
        track = self._tracks.get(key)
        if track is None:
            return False
        if tag == "decide":
            return track.pending_ms == due
        if tag == "renotify":
            return track.renotify_ms == due and track.incident is not None
        return track.forget_ms == due

    def run_next(self, now_ms: int) -> None:
        """Run the next timer (due at or before ``now_ms``) at its own time."""
        due, key, tag = heapq.heappop(self._timers)
        if tag == "silence":
            self._end_silence(key, due)
            return
        track = self._tracks.get(key)
        if track is None:
            return
        if tag == "decide" and track.pending_ms == due:
            track.pending_ms = None
            self._consider(track, due, False)
        elif tag == "renotify" and track.renotify_ms == due and track.incident is not None:
            interval = track.subject.policy.renotify_ms
            if not interval:
                track.renotify_ms = None
                return
            # one reminder however late the clock comes: the next is after now
            track.renotify_ms = due + interval * max(1, math.ceil((now_ms - due + 1) / interval))
            heapq.heappush(self._timers, (track.renotify_ms, key, "renotify"))
            incident = replace(track.incident, summary=track.summary, value=track.value, details=track.details)
            track.incident = incident
            self._notify(track, "renotify", incident, due)
        elif (
            tag == "forget"
            and track.forget_ms == due
            and track.incident is None
            and track.observed == "ok"
            and track.pending_ms is None
        ):
            del self._tracks[key]

    def resolve_orphans(self, at_ms: int) -> None:
        """Resolve the incidents whose rule is gone (found by a restore): nothing will."""
        orphans, self._orphans = self._orphans, []
        for key in orphans:
            track = self._tracks.get(key)
            if track is None:
                continue
            track.observed = "ok"
            track.since = at_ms
            track.summary = f"rule {track.subject.policy.rule!r} is no longer configured, or keys by other fields now"
            if track.incident is not None:
                self._decide(track, at_ms)
            self._tracks.pop(key, None)

    @property
    def has_orphans(self) -> bool:
        return bool(self._orphans)

    # -- silences --------------------------------------------------------------------------

    def silenced(self, key: str, at_ms: int) -> bool:
        return any(active.covers(key, at_ms) for active in self._silences.values())

    def add_silence(
        self, match: str, ends_ms: int, now_ms: int, comment: str = "", silence_id: str | None = None
    ) -> Silence:
        """A silence of the keys matching ``match`` (a glob) from ``now_ms`` to ``ends_ms``."""
        if not isinstance(match, str) or not match:
            raise ValueError("match: a silence needs a glob on incident keys, such as 'heartbeat/web/*'")
        if not isinstance(ends_ms, int) or isinstance(ends_ms, bool) or ends_ms <= now_ms:
            raise ValueError(f"ends_ms: a silence must end after now ({now_ms}); got {ends_ms!r}")
        if not isinstance(comment, str):
            raise ValueError("comment: must be a string")
        silence_id = uuid.uuid4().hex if silence_id is None else silence_id
        if not silence_id or silence_id in self._silences:
            raise ValueError(f"id: {silence_id!r} is empty or taken")
        if len(self._silences) >= self.max_silences:
            raise ValueError(f"there are {len(self._silences)} silences already, the most allowed (max_silences)")
        silence = Silence(silence_id, match, ends_ms, comment, now_ms)
        self._silences[silence_id] = _ActiveSilence(silence)
        heapq.heappush(self._timers, (ends_ms, silence_id, "silence"))
        return silence

    def remove_silence(self, silence_id: str, now_ms: int) -> None:
        """End a silence now; KeyError when there is none by that id."""
        active = self._silences.pop(silence_id)
        self._announce(active, now_ms)

    def _end_silence(self, silence_id: str, due: int) -> None:
        active = self._silences.get(silence_id)
        if active is not None and active.silence.ends_ms == due:
            del self._silences[silence_id]
            self._announce(active, due)

    def _announce(self, ended: _ActiveSilence, at_ms: int) -> None:
        """Trigger what the ended silence held back and is still open, unless another holds it."""
        for key in sorted(self._tracks):
            track = self._tracks[key]
            if track.incident is not None and not track.announced and ended.matcher.match(key) is not None:
                self._notify(track, "trigger", track.incident, at_ms)

    def silences(self) -> list[Silence]:
        return sorted((active.silence for active in self._silences.values()), key=lambda s: (s.ends_ms, s.id))

    # -- what is open --------------------------------------------------------------------

    def open_incidents(self) -> list[Incident]:
        return [track.incident for _, track in sorted(self._tracks.items()) if track.incident is not None]

    def __len__(self) -> int:
        return len(self._tracks)

    # -- state ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        tracks = []
        for key, track in sorted(self._tracks.items()):
            tracks.append(
                {
                    "key": key,
                    "rule": track.subject.policy.rule,
                    "kind": track.subject.policy.kind,
                    "labels": [list(pair) for pair in track.subject.labels],
                    "observed": track.observed,
                    "since": track.since,
                    "summary": track.summary,
                    "value": track.value,
                    "details": [list(pair) for pair in track.details],
                    "incident": None if track.incident is None else _incident_to_json(track.incident),
                    "announced": track.announced,
                    "pending_ms": track.pending_ms,
                    "renotify_ms": track.renotify_ms,
                    "forget_ms": track.forget_ms,
                }
            )
        silences = [asdict(silence) for silence in self.silences()]
        return {"tracks": tracks, "silences": silences, "orphans": sorted(self._orphans)}

    def restore(self, state: dict[str, Any], policies: dict[str, Policy]) -> None:
        """The book as :meth:`snapshot` left it. A track whose rule is not in ``policies``
        (by name and kind) is an orphan, resolved at the next run. Silences end when they
        said, however long the engine was down."""
        self._tracks.clear()
        self._silences.clear()
        self._timers.clear()
        self._orphans = list(state.get("orphans", []))
        for item in state["tracks"]:
            key = item["key"]
            policy = policies.get(item["rule"])
            if policy is None or policy.kind != item["kind"]:
                policy = Policy(item["rule"], item["kind"])
                self._orphans.append(key)
            labels = tuple((str(k), str(v)) for k, v in item["labels"])
            track = Track(Subject(key, labels, policy), int(item["since"]))
            track.observed = item["observed"]
            track.summary = item["summary"]
            track.value = item["value"]
            track.details = tuple((str(k), str(v)) for k, v in item["details"])
            track.incident = None if item["incident"] is None else _incident_from_json(item["incident"])
            track.announced = bool(item["announced"])
            for tag in ("pending_ms", "renotify_ms", "forget_ms"):
                due = item[tag]
                setattr(track, tag, due)
                if due is not None:
                    self._timers.append((due, key, {"pending_ms": "decide"}.get(tag, tag[:-3])))
            self._tracks[key] = track
        for item in state["silences"]:
            silence = Silence(**item)
            self._silences[silence.id] = _ActiveSilence(silence)
            self._timers.append((silence.ends_ms, silence.id, "silence"))
        heapq.heapify(self._timers)


def _incident_to_json(incident: Incident) -> dict[str, Any]:
    state = asdict(incident)
    state["labels"] = [list(pair) for pair in incident.labels]
    state["details"] = [list(pair) for pair in incident.details]
    return state


def _incident_from_json(state: dict[str, Any]) -> Incident:
    labels = tuple((str(k), str(v)) for k, v in state["labels"])
    details = tuple((str(k), str(v)) for k, v in state["details"])
    return Incident(**{**state, "labels": labels, "details": details})
