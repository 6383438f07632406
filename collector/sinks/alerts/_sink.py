"""The ``alerts`` sink: numbatd watches the event stream, opens incidents and notifies.

The engine (collector.alerts, sans-I/O) decides; this shell hands it the events and the
time and sends what it returns to the outputs (collector.alerts.outputs, each with its
own queue and task, so no output delays another or the rules: ``submit`` never waits).

Its life: ``__init__`` builds the engine and the outputs from the options; ``open``
binds the API's address and restores the state saved under ``state_dir`` (SQLite,
_state.py), telling the engine how long it was down so that heartbeats are not blamed
for numbatd's own absence, and hands the incidents still open to the Alertmanager
outputs (Alertmanager keeps no alerts of ours across its or our restarts);
``maintain`` runs the outputs, the evaluation task, the saver and the API; ``write``
feeds a batch to the engine at the wall-clock time; ``flush`` lets the outputs send what
they hold (bounded by ``close_timeout``); ``close`` saves the state and unbinds.

The evaluation task sleeps until the engine's next timer (``next_due_ms``), at most
``max_tick_interval``; a write or a silence that brings a timer forward cancels that
sleep. The clock is the wall clock in ms: the state outlives the process, and a
silence's end is a date.

A reload that changes the sink's table replaces the sink (the router stops the old one
before it opens the new one): the old one saves at close, the new one restores under its
rules, so a rule kept by name and kind keeps its keys and incidents, and the incidents of
a rule removed are resolved (and notified) at once.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path

import orjson
import trio

from ...alerts import AlertEngine, Incident, Notification, Silence
from ...alerts.outputs import OUTPUT_TYPES, AlertmanagerOutput, Dispatch, OutputRunner
from ...config import SinkConfig
from ...observe import AlertOutputStats, AlertSinkStats, FloodGate, SinkStats, log
from ...wire import Batch
from .._base import Sink
from .._http_server import Answer, Request, ServerLimits, SmallServer
from ._api import Routes
from ._options import AlertsOptions
from ._state import StateFile

MAX_REQUEST_BODY = 64 * 1024  #: bytes of a request's body (a silence is a few hundred)
JSON = b"application/json"


def wall_ms() -> int:
    return int(time.time() * 1000)


class AlertsSink(Sink[AlertsOptions]):
    kind = "alerts"
    Options = AlertsOptions

    def __init__(self, config: SinkConfig, stats: SinkStats | None = None, state_dir: Path | None = None) -> None:
        super().__init__(config, stats, state_dir)
        options = self.options
        self.engine = AlertEngine(options.built_rules, max_silences=options.max_silences)
        metrics = self.stats.metrics
        self.alert_stats = AlertSinkStats(metrics, self.name)
        self.runners: list[OutputRunner] = []
        for spec in options.built_outputs:
            output = OUTPUT_TYPES[spec.type](spec.name, spec.options)
            self.runners.append(OutputRunner(output, AlertOutputStats(metrics, spec.name, spec.type)))
        self.dispatch = Dispatch(self.runners)
        self.state = StateFile(self.state_dir)
        host, port = options.host_port
        routes = Routes(
            incidents=self.engine.open_incidents,
            silences=self.engine.silences,
            add_silence=self.add_silence,
            remove_silence=self.remove_silence,
            now_ms=wall_ms,
        )
        limits = ServerLimits(options.max_connections, options.read_timeout, options.idle_timeout, MAX_REQUEST_BODY)
        self.routes = routes
        self.server = SmallServer(
            host, port, name=f"alerts {self.name} API", respond=self._respond, refuse=_refusal, limits=limits
        )
        self._wake: trio.CancelScope | None = None
        self._sleep_until_ms = math.inf
        self._dirty = trio.Event()
        self._silenced_seen: Counter[str] = Counter()
        self._gate = FloodGate(5.0)
        self._opened = False  # what close() saves came from an open(): a sink never opened writes no state

    async def _respond(self, request: Request) -> Answer:
        status, body = self.routes.handle(request.method, request.target, request.body)
        return Answer(status, body, JSON)

    # -- life ------------------------------------------------------------------------------

    async def open(self) -> None:
        await self.server.open()
        now = wall_ms()
        try:
            state = self.state.load()
            if state is not None:
                self.engine.restore(state, resumed_ms=now)
        except ValueError as exc:  # a damaged file: start afresh, say so (the old file is overwritten at the next save)
            log.error(
                "alerts: saved state unreadable; starting without it", extra={"sink": self.name, "error": str(exc)}
            )
        else:
            if state is not None:
                open_incidents = self.engine.open_incidents()
                for runner in self.runners:
                    if isinstance(runner.output, AlertmanagerOutput):
                        runner.output.adopt(open_incidents)
                log.info(
                    "alerts: state restored",
                    extra={
                        "sink": self.name,
                        "incidents": len(open_incidents),
                        "down_ms": now - (state.get("now_ms") or now),
                    },
                )
        self._opened = True  # from here on close() saves: a state that failed to load is never overwritten
        self._after(self.engine.tick(now))

    async def maintain(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            for runner in self.runners:
                await nursery.start(runner.run)
            await nursery.start(self.server.serve)
            nursery.start_soon(self._evaluate)
            nursery.start_soon(self._save_loop)
            task_status.started()

    async def write(self, batch: Batch) -> None:
        started = time.perf_counter()
        notifications = self.engine.observe(batch.events, wall_ms())
        self.alert_stats.observe_seconds(time.perf_counter() - started)
        self._after(notifications)
        self._dirty.set()

    async def flush(self) -> None:
        """The outputs send what they hold, for at most ``close_timeout``."""
        self._save()
        self.dispatch.close()
        with trio.move_on_after(self.options.close_timeout):
            while any(runner.queued for runner in self.runners):
                await trio.sleep(0.02)

    async def close(self) -> None:
        await self.server.aclose()
        if not self._opened:
            return
        try:
            self._save()
        except Exception as exc:
            log.error("alerts: state not saved", extra={"sink": self.name, "error": f"{type(exc).__name__}: {exc}"})
        self.alert_stats.set_open({})

    # -- silences (the API's calls) --------------------------------------------------------

    def add_silence(self, match: str, ends_ms: int, comment: str) -> Silence:
        silence = self.engine.add_silence(match, ends_ms, wall_ms(), comment=comment, silence_id=None)
        log.info(
            "alerts: silence added",
            extra={"sink": self.name, "silence": silence.id, "match": match, "ends_ms": ends_ms},
        )
        self._after([])
        self._dirty.set()
        return silence

    def remove_silence(self, silence_id: str) -> None:
        notifications = self.engine.remove_silence(silence_id, wall_ms())
        log.info("alerts: silence removed", extra={"sink": self.name, "silence": silence_id})
        self._after(notifications)
        self._dirty.set()

    # -- the work --------------------------------------------------------------------------

    def _after(self, notifications: list[Notification]) -> None:
        """Send what the engine returned; keep the self-metrics; wake the evaluation task
        if a timer now comes before its wake-up."""
        if notifications:
            actions: Counter[str] = Counter()
            for notification in notifications:
                self.dispatch.submit(notification)
                actions[notification.action] += 1
            for action, count in actions.items():
                self.alert_stats.notified(action, count)
            self._count_open(self.engine.open_incidents())
            self._dirty.set()
        silenced = self.engine.book_stats.silenced
        if silenced != self._silenced_seen:
            for action, count in silenced.items():
                if count > self._silenced_seen[action]:
                    self.alert_stats.silenced(action, count - self._silenced_seen[action])
            self._silenced_seen = Counter(silenced)
        due = self.engine.next_due_ms()
        if due is not None and due < self._sleep_until_ms and self._wake is not None:
            self._wake.cancel()

    def _count_open(self, incidents: list[Incident]) -> None:
        counts: Counter[tuple[str, str]] = Counter((incident.rule, incident.severity) for incident in incidents)
        self.alert_stats.set_open(dict(counts))

    async def _evaluate(self) -> None:
        """Tick the engine when its next timer is due (bounded sleeps)."""
        bound_ms = self.options.max_tick_interval * 1000
        while True:
            now = wall_ms()
            due = self.engine.next_due_ms()
            wait_ms = bound_ms if due is None else min(max(0, due - now), bound_ms)
            self._sleep_until_ms = now + wait_ms
            with trio.CancelScope() as scope:
                self._wake = scope
                await trio.sleep(wait_ms / 1000)
            self._wake = None
            self._sleep_until_ms = math.inf
            started = time.perf_counter()
            notifications = self.engine.tick(wall_ms())
            self.alert_stats.tick_seconds(time.perf_counter() - started)
            self._after(notifications)

    async def _save_loop(self) -> None:
        """Save the state after changes, at most once per ``save_interval``."""
        while True:
            await self._dirty.wait()
            self._dirty = trio.Event()
            body = orjson.dumps(self.engine.snapshot())
            try:
                await trio.to_thread.run_sync(self.state.save, body, wall_ms())
            except Exception as exc:
                self._gate.warning(
                    "save", "alerts: state not saved", sink=self.name, error=f"{type(exc).__name__}: {exc}"
                )
            await trio.sleep(self.options.save_interval)

    def _save(self) -> None:
        self.state.save(orjson.dumps(self.engine.snapshot()), wall_ms())


def _refusal(status: int, problem: str) -> Answer:
    return Answer(status, orjson.dumps({"error": problem}), JSON)
