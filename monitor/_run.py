"""The shell around the core: the child, its signals, the readings on a clock, the events.

One loop on the main thread. The signals numbat-run forwards, and SIGCHLD, are blocked
before anything starts and taken with ``sigtimedwait``, whose timeout is the next
deadline (a reading, a heartbeat, a start check, the stop timeout): no handler runs in
the middle of the loop's work, and each signal comes with the kernel's word on who sent
it. With ``--logs`` two pumps (threads, :mod:`._output`) copy the child's output through
and hand its lines to :meth:`Run.on_lines`; without it the child writes to numbat-run's
own stdout and stderr, and no thread but the emitter's runs.

A signal the terminal sent (Ctrl-C, Ctrl-\\, a hangup: ``si_code`` SI_KERNEL) went to
the whole foreground process group, the child included, so it is not sent again; every
other one is forwarded. SIGTERM and SIGINT ask for a stop: a child still running
``stop_timeout`` seconds later is killed, with every process it started.

Nothing here may end numbat-run early (the child would get its parent-death signal): a
reading that fails is counted and reported once on stderr, and the loop goes on.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from time import monotonic, time_ns

from emitter import Emitter

from ._child import command_line, describe, signal_name, spawn
from ._options import RunOptions
from ._output import OutputPump
from ._probe import TreeProbe, host_usage
from .core import (
    ChildExit,
    CpuRate,
    Line,
    Metric,
    NotStarted,
    RateLimiter,
    StartDetector,
    Stop,
    Ticker,
    events,
    last_output,
    line_text,
)
from .core._start import Outcome

#: The signals numbat-run passes on to the child.
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
#: Those that ask for a stop (and start the stop timeout).
STOPPING = frozenset({signal.SIGTERM, signal.SIGINT})
WATCHED = frozenset({*FORWARDED, signal.SIGCHLD})
#: asm-generic/siginfo.h: the kernel sent it (a terminal, to its foreground process group).
SI_KERNEL = 0x80


def run(options: RunOptions) -> int:
    """Run ``options.command`` under watch until it exits; its exit status (128 + N when
    signal N killed it). The watched signals stay blocked afterwards: one still pending
    must not end numbat-run before it exits with the child's status."""
    child_mask = {signal.Signals(number) for number in signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)}
    return Run(options, child_mask).run()


class Run:
    def __init__(self, options: RunOptions, child_mask: Iterable[signal.Signals]) -> None:
        self.options = options
        self.child_mask = frozenset(child_mask)
        self.argv = command_line(options.command, options.shell)
        self.shown = " ".join(options.command) if options.shell else describe(options.command)
        self.errors: dict[str, int] = {}  #: failures of each periodic task, survived
        self.stop_asked_by: str | None = None
        self.kill_at: float | None = None
        self.killed_after: float | None = None
        self._lines_lock = threading.Lock()
        self._tail: deque[Line] | None = deque(maxlen=options.tail_lines) if options.logs else None

    # -- the run --------------------------------------------------------------------

    def run(self) -> int:
        options = self.options
        try:
            self.child = spawn(self.argv, capture_output=options.logs, mask=self.child_mask)
        except OSError as error:
            return self._could_not_run(error)
        self.spawned_at = monotonic()
        self.pid = self.child.pid
        self.emitter = Emitter(options.uri, app=options.app, node=options.node, exit_timeout=options.flush_timeout)
        self.send(events.spawn(self.pid, self.shown))
        self.limiter = RateLimiter(options.log_rate, options.log_burst, self.spawned_at)
        self.pumps = self._start_pumps() if options.logs else []
        self.probe = TreeProbe(self.pid)
        self.detector = StartDetector(self.spawned_at, options.start_timeout)
        self.cpu = CpuRate(self.spawned_at)
        self.readings = Ticker(options.interval, self.spawned_at)
        self.heartbeats = Ticker(options.heartbeat, self.spawned_at, at_start=True)
        while self.child.poll() is None:
            self._tick(monotonic())
            self._wait(self._next_deadline())
        return self._finish()

    def _tick(self, now: float) -> None:
        if self.heartbeats.due(now):
            self.send(events.heartbeat(self.pid, 3 * self.options.heartbeat))
        if self.detector.due(now):
            self._guarded("the start check", lambda: self._check_start(now))
        if self.readings.due(now):
            self._guarded("a reading", lambda: self._read(now))
        if self.kill_at is not None and now >= self.kill_at:
            self._guarded("the kill", self._kill)

    def _next_deadline(self) -> float:
        deadlines = [self.readings.next_at, self.heartbeats.next_at]
        if not self.detector.decided:
            deadlines.append(self.detector.next_check_at)
        if self.kill_at is not None:
            deadlines.append(self.kill_at)
        return min(deadlines)

    def _wait(self, deadline: float) -> None:
        """Until ``deadline`` or a watched signal; a forwarded one is handled here."""
        info = signal.sigtimedwait(WATCHED, max(0.0, deadline - monotonic()))
        if info is not None and info.si_signo != signal.SIGCHLD:
            self._guarded("forwarding a signal", lambda: self._forward(info))

    def _finish(self) -> int:
        ended_at = monotonic()
        for pump in self.pumps:
            pump.join(self.options.drain_timeout)
        outcome = self.detector.exited(ended_at)
        if outcome is not None:
            self._announce_start(outcome)
        self._report_dropped()
        ended = ChildExit.from_returncode(self.child.returncode, signal_name)
        stop = Stop(asked_by=self.stop_asked_by, killed_after=self.killed_after)
        for metric in events.exit_events(self.pid, ended, stop, ended_at - self.spawned_at):
            self.send(metric)
        self.emitter.close(self.options.flush_timeout)
        return ended.exit_status

    # -- signals and the stop --------------------------------------------------------

    def _forward(self, info: signal.struct_siginfo) -> None:
        number = info.si_signo
        if number in STOPPING and self.stop_asked_by is None:
            self.stop_asked_by = signal_name(number)
            self.kill_at = monotonic() + self.options.stop_timeout
        if info.si_code == SI_KERNEL and self._child_in_our_group():
            return  # the terminal sent it to the child as well
        self.child.send_signal(number)  # nothing, once it has exited and been reaped

    def _child_in_our_group(self) -> bool:
        try:
            return os.getpgid(self.pid) == os.getpgrp()
        except ProcessLookupError:
            return True

    def _kill(self) -> None:
        self.kill_at = None
        self.killed_after = self.options.stop_timeout
        print(
            f"numbat-run: {self.shown} still running {self.options.stop_timeout:g} s after {self.stop_asked_by}:"
            " SIGKILL to it and every process it started",
            file=sys.stderr,
            flush=True,
        )
        self.probe.kill_all()

    # -- readings --------------------------------------------------------------------

    def _check_start(self, now: float) -> None:
        outcome = self.detector.check(now, self.probe.listening_ports)
        if outcome is not None:
            self._announce_start(outcome)

    def _announce_start(self, outcome: Outcome) -> None:
        with self._lines_lock:
            tail, self._tail = self._tail, None  # kept only until the start is decided
        output = None
        if isinstance(outcome, NotStarted) and tail is not None:
            limit = self.options.tail_bytes
            output = last_output([line_text(line, limit)[0] for line in tail], limit)
        self.send(events.start(self.pid, outcome, output))

    def _read(self, now: float) -> None:
        reading = self.probe.usage(now)
        if reading.processes:
            at_ms = time_ns() // 1_000_000  # one reading, one moment: the six events share their time
            for metric in events.usage(self.pid, reading, self.cpu.percent(reading), now - self.spawned_at):
                self.send(metric, at_ms)
        if self.options.host_metrics:
            for metric in events.host(host_usage(self.options.disk_path)):
                self.send(metric)
        self._report_dropped()

    # -- the child's output ------------------------------------------------------------

    def _start_pumps(self) -> list[OutputPump]:
        pumps = []
        for stream, destination in (("stdout", sys.stdout.fileno()), ("stderr", sys.stderr.fileno())):
            source = getattr(self.child, stream)
            setattr(self.child, stream, None)  # the pump owns the pipe now, and closes it
            pump = OutputPump(stream, source, destination, self.options.log_line_bytes, self.on_lines)
            pump.start()
            pumps.append(pump)
        return pumps

    def on_lines(self, stream: str, lines: list[Line]) -> None:
        """From a pump's thread: each line to the tail while the start is undecided, and
        as an event when the rate limit lets it."""
        now = monotonic()
        limit = self.options.log_line_bytes
        with self._lines_lock:
            if self._tail is not None:
                self._tail.extend(lines)
            for line in lines:
                if self.limiter.allow(now):
                    text, cut = line_text(line, limit)
                    self.send(events.log_line(self.pid, stream, text, cut))

    def _report_dropped(self) -> None:
        if not self.options.logs:
            return
        with self._lines_lock:
            dropped = self.limiter.take_dropped()
        if dropped:
            self.send(events.log_dropped(self.pid, dropped))

    # -- helpers ---------------------------------------------------------------------

    def send(self, metric: Metric, at_ms: int | None = None) -> None:
        """``metric`` through the emitter, stamped ``at_ms`` when given (else when sent)."""
        if at_ms is None:
            self.emitter.metric(metric.name, metric.value, **metric.fields)
        else:
            self.emitter.metric(metric.name, metric.value, **metric.fields, time=at_ms)

    def _guarded(self, what: str, task: Callable[[], None]) -> None:
        try:
            task()
        except Exception as error:  # numbat-run must outlive its own bugs: the child depends on it
            self.errors[what] = self.errors.get(what, 0) + 1
            if self.errors[what] == 1:
                print(f"numbat-run: {what} failed (reported once): {error!r}", file=sys.stderr, flush=True)

    def _could_not_run(self, error: OSError) -> int:
        status = 127 if isinstance(error, FileNotFoundError) else 126
        print(f"numbat-run: cannot run {self.shown}: {error.strerror or error}", file=sys.stderr, flush=True)
        options = self.options
        with Emitter(options.uri, app=options.app, node=options.node, exit_timeout=options.flush_timeout) as sender:
            metric = events.could_not_run(self.shown, error.strerror or str(error), status)
            sender.metric(metric.name, metric.value, **metric.fields)
        return status
