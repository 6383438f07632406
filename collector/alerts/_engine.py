"""The alert engine: events and the time in, notifications out. Sans-I/O: no clock, no
threads, no sockets; the sink that owns it hands it batches (:meth:`AlertEngine.observe`)
and ticks it (:meth:`AlertEngine.tick`), and sends what they return to the outputs.

Strategy: one watcher per rule (_heartbeat.py, _status.py, _threshold.py, _absent.py)
and one incident book (_incidents.py). An event goes to the handlers its name needs,
looked up once per name and cached (as the aggregator caches its rules); events that
carry a ``status`` go to the status rules' handlers too. Nothing is evaluated on a
schedule of its own: timers (a heartbeat's deadline, a key's re-evaluation, a damped
decision, a reminder, a silence's end) sit in two heaps, the watchers' and the book's,
and every call first runs those due by its time, in time order, each at its own time.
So the engine is a function of its calls: the same calls give the same notifications,
however late a tick comes (a heartbeat missed at 10:00:00 is opened at 10:00:00 even
when the next call is at 10:00:05, and a clock that jumps counts the misses it skipped).

The clock never goes back: a time before the last one handed in is taken as the last.
Events are timed by arrival (the time handed in), not by their own ``time`` field.

:meth:`AlertEngine.snapshot` is the whole state as JSON-able values (every key of every
rule, every open incident, every silence), and :meth:`AlertEngine.restore` makes an
engine that behaves exactly as the one snapshotted for any continuation; told how long
it was down (``resumed_ms``), it does not blame heartbeats for the silence of its own
absence. Rules reloaded (:meth:`AlertEngine.reconfigure`) keep their keys by name; an
incident whose rule is gone, or now keys by other fields, is resolved.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Iterable
from typing import Any

from emitter.event import Event

from ._absent import AbsentWatcher
from ._heartbeat import HeartbeatWatcher
from ._incidents import BookStats, IncidentBook
from ._model import Incident, Notification, Silence
from ._rules import AlertRule, check_rules
from ._status import StatusWatcher
from ._threshold import RatioWatcher, ThresholdWatcher
from ._watch import EngineStats, Handler, Timers, Watcher

SNAPSHOT_VERSION = 1
_NAME_CACHE_SIZE = 65_536
WATCHERS: dict[str, type[Watcher]] = {
    "heartbeat": HeartbeatWatcher,
    "status": StatusWatcher,
    "threshold": ThresholdWatcher,
    "absent": AbsentWatcher,
    "ratio": RatioWatcher,
}


class AlertEngine:
    """Rules over an event stream, and the incidents they open. One task owns it."""

    def __init__(self, rules: Iterable[AlertRule], *, max_silences: int = 1_000) -> None:
        self.stats = EngineStats()
        self.book = IncidentBook(max_silences)
        self.timers = Timers()
        self._now: int | None = None
        self._handlers: dict[str, tuple[Handler, ...]] = {}
        self._status_handlers: dict[str, tuple[Handler, ...]] = {}
        self.rules: tuple[AlertRule, ...] = ()
        self._watchers: dict[str, Watcher] = {}
        self._configure(rules)

    def _configure(self, rules: Iterable[AlertRule]) -> None:
        self.rules = check_rules(rules)
        self._watchers = {rule.name: WATCHERS[rule.kind](rule, self) for rule in self.rules}
        self._handlers.clear()
        self._status_handlers.clear()
        self.timers.heap.clear()

    # -- the stream ------------------------------------------------------------------------

    def observe(self, events: Iterable[Event], now_ms: int) -> list[Notification]:
        """Take ``events``, arrived at ``now_ms``; the notifications that follow (timers
        due by ``now_ms`` first)."""
        self._advance(now_ms)
        now = self._now
        assert now is not None
        handlers, status_handlers = self._handlers, self._status_handlers
        count = 0
        for event in events:
            count += 1
            try:
                name = event.get("name")
                if name.__class__ is not str:
                    self.stats.unnamed += 1
                    continue
                found = handlers.get(name)
                if found is None:
                    found = self._lookup(name)
                for handler in found:
                    handler(event, name, now)
                if "status" in event:
                    checks = status_handlers.get(name)
                    if checks is None:
                        checks = self._lookup_status(name)
                    for handler in checks:
                        handler(event, name, now)
            except Exception as exc:
                self.stats.failed += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
        self.stats.events += count
        return self._drain()

    def tick(self, now_ms: int) -> list[Notification]:
        """The time is ``now_ms``: the notifications of the timers due by then."""
        self._advance(now_ms)
        return self._drain()

    def next_due_ms(self) -> int | None:
        """When the next timer is due (a tick before then finds nothing to do), or None."""
        heap, watchers = self.timers.heap, self._watchers
        while heap and ((owner := watchers.get(heap[0][1])) is None or not owner.live(heap[0][2], heap[0][0])):
            heapq.heappop(heap)
        due = [heap[0][0]] if heap else []
        book_due = self.book.next_due()
        if book_due is not None:
            due.append(book_due)
        return min(due) if due else None

    def _lookup(self, name: str) -> tuple[Handler, ...]:
        if len(self._handlers) >= _NAME_CACHE_SIZE:
            self._handlers.clear()
        found = self._handlers[name] = tuple(h for w in self._watchers.values() for h in w.handlers(name))
        return found

    def _lookup_status(self, name: str) -> tuple[Handler, ...]:
        if len(self._status_handlers) >= _NAME_CACHE_SIZE:
            self._status_handlers.clear()
        found = tuple(h for w in self._watchers.values() if (h := w.status_handler(name)) is not None)
        self._status_handlers[name] = found
        return found

    def _advance(self, now_ms: int) -> None:
        if self._now is None:
            self._now = now_ms
            for watcher in self._watchers.values():
                watcher.start(now_ms)
        elif now_ms > self._now:
            self._now = now_ms
        now = self._now
        book = self.book
        if book.has_orphans:
            book.resolve_orphans(now)
        heap = self.timers.heap
        watchers = self._watchers
        while True:
            due = heap[0][0] if heap else None
            book_due = book.next_due()
            if due is not None and due <= now and (book_due is None or due <= book_due):
                _, rule, key = heapq.heappop(heap)
                owner = watchers.get(rule)
                if owner is not None:
                    owner.fire(key, due, now)
            elif book_due is not None and book_due <= now:
                book.run_next(now)
            else:
                return

    def _drain(self) -> list[Notification]:
        out, self.book.out = self.book.out, []
        return out

    # -- silences and incidents ------------------------------------------------------------

    def add_silence(
        self, match: str, ends_ms: int, now_ms: int, *, comment: str = "", silence_id: str | None = None
    ) -> Silence:
        """Silence the incidents whose key matches ``match`` (a glob) until ``ends_ms``.
        ValueError when the glob is empty, the end is not after now, or there are
        ``max_silences`` already."""
        now = now_ms if self._now is None else max(now_ms, self._now)
        return self.book.add_silence(match, ends_ms, now, comment, silence_id)

    def remove_silence(self, silence_id: str, now_ms: int) -> list[Notification]:
        """End a silence now (KeyError when there is none by that id): the incidents it
        held back that are still open are announced."""
        if silence_id not in {silence.id for silence in self.book.silences()}:
            raise KeyError(silence_id)  # before the clock moves: what it would send is the next call's
        self._advance(now_ms)
        assert self._now is not None
        with contextlib.suppress(KeyError):  # it ended by itself on the way to now_ms
            self.book.remove_silence(silence_id, self._now)
        return self._drain()

    def silences(self) -> list[Silence]:
        return self.book.silences()

    def open_incidents(self) -> list[Incident]:
        """Every open incident (silenced or not), by key."""
        return self.book.open_incidents()

    def watched(self) -> dict[str, int]:
        """The keys each rule watches."""
        return {name: len(watcher) for name, watcher in self._watchers.items()}

    @property
    def book_stats(self) -> BookStats:
        return self.book.stats

    # -- state -----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole state, JSON-able (orjson or json), for :meth:`restore`."""
        return {
            "version": SNAPSHOT_VERSION,
            "now_ms": self._now,
            "rules": {
                name: {"kind": w.kind, "key_fields": list(w.rule.key_fields), "keys": w.dump()}
                for name, w in sorted(self._watchers.items())
            },
            "book": self.book.snapshot(),
        }

    def restore(self, state: dict[str, Any], *, resumed_ms: int | None = None) -> None:
        """Become the engine :meth:`snapshot` described, under this engine's rules: the
        keys of rules of the same name and kind, every incident and silence. Incidents of
        rules gone are resolved at the next call. ``resumed_ms``: the time now, after a
        restart; the time since the snapshot is added to the deadlines that measure
        silence (heartbeats, absences, status expiry), since no event could arrive.
        ValueError when ``state`` is no snapshot (the engine is then as new)."""
        try:
            self._restore(state, resumed_ms)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            self.book = IncidentBook(self.book.max_silences)
            self._configure(self.rules)
            self._now = None
            raise ValueError(f"not a snapshot of the alert engine: {type(exc).__name__}: {exc}") from None

    def _restore(self, state: dict[str, Any], resumed_ms: int | None) -> None:
        if state.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"version {state.get('version')!r}, not {SNAPSHOT_VERSION}")
        self._configure(self.rules)
        then = state["now_ms"]
        shift = max(0, resumed_ms - then) if resumed_ms is not None and then is not None else 0
        self._now = then if resumed_ms is None else max(then if then is not None else resumed_ms, resumed_ms)
        saved = state["rules"]
        # the rules that are what they were: same kind, same key fields in the same order
        # (a saved key holds its values in the order of the fields)
        kept = {}
        for name, watcher in self._watchers.items():
            item = saved.get(name)
            if item is None or (
                item["kind"] == watcher.kind
                and tuple(item.get("key_fields", watcher.rule.key_fields)) == watcher.rule.key_fields
            ):
                kept[name] = watcher.policy
            if item is not None and name in kept:
                watcher.load(item["keys"], shift)
            if self._now is not None:
                watcher.start(self._now)  # what it watches from the start, if the snapshot had none
        # the incidents of a rule that now keys by other fields would never hear of their keys again
        self.book.restore(state["book"], kept)

    def reconfigure(self, rules: Iterable[AlertRule], now_ms: int) -> list[Notification]:
        """New rules (a configuration reload) at ``now_ms``: a rule whose name and kind
        and key fields stay keeps its keys and incidents; a new one starts empty; the
        incidents of rules gone, or keyed by other fields now, are resolved. ValueError
        (nothing changed) when the rules are not valid."""
        rules = check_rules(rules)
        self._advance(now_ms)
        state = self.snapshot()
        self._configure(rules)
        self._restore(state, None)
        self._advance(now_ms)
        return self._drain()
