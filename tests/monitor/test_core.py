"""numbat-run's pure rules: the rate limit, the start rule, the ticker, the CPU rate, the
exit rule and the events' shapes."""

from __future__ import annotations

import itertools
import signal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.core import (
    ChildExit,
    CpuRate,
    HostUsage,
    NotStarted,
    RateLimiter,
    StartDetector,
    Started,
    Stop,
    Ticker,
    TreeUsage,
    events,
    exit_severity,
)

steps = st.lists(st.floats(0, 2, allow_nan=False), min_size=1, max_size=300)


def clock(gaps: list[float], start: float = 100.0) -> list[float]:
    return list(itertools.accumulate(gaps, initial=start))[1:]


@given(steps, st.floats(0.5, 50), st.integers(1, 30))
def test_the_rate_limit_holds_in_every_window(gaps: list[float], rate: float, burst: int) -> None:
    limiter = RateLimiter(rate, burst, 100.0)
    times = clock(gaps)
    allowed = [now for now in times if limiter.allow(now)]
    assert limiter.allowed + limiter.dropped == len(times)
    assert limiter.allowed == len(allowed)
    for i, start in enumerate(allowed):
        for j in range(i, len(allowed)):
            assert j - i + 1 <= burst + rate * (allowed[j] - start) + 1e-6


@given(st.lists(st.floats(0, 1, allow_nan=False), max_size=100), st.floats(0.5, 50), st.integers(1, 30))
def test_lines_no_faster_than_the_rate_all_go(jitter: list[float], rate: float, burst: int) -> None:
    limiter = RateLimiter(rate, burst, 0.0)
    times = clock([1 / rate + extra for extra in jitter], start=0.0)
    assert all(limiter.allow(now) for now in times)
    assert limiter.take_dropped() == 0


@given(steps, st.lists(st.integers(0, 300), max_size=5))
def test_drops_are_reported_once_each(gaps: list[float], report_at: list[int]) -> None:
    limiter = RateLimiter(1.0, 2, 100.0)
    reported = 0
    for index, now in enumerate(clock(gaps)):
        limiter.allow(now)
        if index in report_at:
            reported += limiter.take_dropped()
    assert reported + limiter.take_dropped() == limiter.dropped


def test_a_clock_going_back_refills_nothing() -> None:
    limiter = RateLimiter(10, 1, 100.0)
    assert limiter.allow(100.0)
    assert not limiter.allow(50.0)
    assert not limiter.allow(100.05)
    assert limiter.allow(100.15)


@given(steps, st.floats(0.1, 5), st.booleans())
def test_a_ticker_is_due_once_per_interval_at_most(gaps: list[float], interval: float, at_start: bool) -> None:
    ticker = Ticker(interval, 100.0, at_start=at_start)
    last = None
    for now in [100.0, *clock(gaps)]:
        before = ticker.next_at
        due = ticker.due(now)
        assert due == (now >= before)
        assert ticker.next_at > now or (not due and ticker.next_at == before)
        if due:
            assert last is None or now - last >= interval - 1e-9 or now >= before
            last = now
    assert Ticker(interval, 100.0).next_at == 100.0 + interval


@given(steps, st.floats(0.01, 10), st.sets(st.integers(1, 65535), max_size=3), st.integers(0, 300))
def test_the_start_rule(gaps: list[float], timeout: float, ports: set[int], listen_from: int) -> None:
    """Started once the child listens, with its ports; NotStarted at the timeout, never
    before; checks at most max_check apart and none after the timeout; decided once."""
    detector = StartDetector(100.0, timeout, max_check=1.0)
    decided = []
    checks = []
    for index, now in enumerate(clock(gaps)):
        if not detector.due(now):
            continue
        checks.append(now)
        listening = frozenset(ports) if index >= listen_from else frozenset()
        outcome = detector.check(now, lambda listening=listening: listening)
        if outcome is not None:
            decided.append((now, listening, outcome))
        elif not detector.decided:
            assert detector.next_check_at <= 100.0 + timeout
            assert detector.next_check_at - now <= 1.0
    assert len(decided) <= 1
    for now, listening, outcome in decided:
        if listening:
            assert outcome == Started(tuple(sorted(listening)), now - 100.0)
        else:
            assert outcome == NotStarted("timeout", now - 100.0)
            assert now - 100.0 >= timeout
        assert detector.exited(now + 1) is None
    if not decided:
        assert detector.exited(200.0) == NotStarted("exited", 100.0)


def test_a_timeout_of_zero_does_not_wait_for_a_port() -> None:
    detector = StartDetector(5.0, 0)
    assert detector.due(5.0)
    assert detector.check(5.25, frozenset) == Started((), 0.25, waited=False)
    assert events.start(7, Started((), 0.25, waited=False), None).fields["status"] == "ok"


def test_the_first_checks_come_quickly_then_back_off() -> None:
    detector = StartDetector(0.0, 30.0, first_check=0.05, max_check=1.0)
    seen = []
    now = 0.0
    while not detector.decided and now < 31:
        now = detector.next_check_at
        seen.append(round(now, 3))
        detector.check(now, frozenset)
    assert seen[:6] == [0.05, 0.15, 0.35, 0.75, 1.55, 2.55]
    assert seen[-1] == 30.0
    assert detector.outcome == NotStarted("timeout", 30.0)


def usage(at: float, cpu: float) -> TreeUsage:
    return TreeUsage(at=at, cpu_seconds=cpu, rss_bytes=1, threads=1, fds=1, processes=1)


def test_cpu_is_percent_of_one_core_since_the_last_reading() -> None:
    rate = CpuRate(10.0)
    assert rate.percent(usage(12.0, 1.0)) == 50.0  # since the spawn
    assert rate.percent(usage(14.0, 5.0)) == 200.0  # two cores
    assert rate.percent(usage(16.0, 4.0)) == 0.0  # a process gone with its time: not negative
    assert rate.percent(usage(17.0, 4.5)) == 50.0


@pytest.mark.parametrize(
    ("returncode", "stop", "severity", "status", "shutdown"),
    [
        (0, Stop(), "ok", 0, True),
        (3, Stop(), "critical", 3, False),
        (-9, Stop(), "critical", 137, False),
        (-15, Stop(asked_by="SIGTERM"), "ok", 143, True),
        (1, Stop(asked_by="SIGINT"), "ok", 1, True),
        (-9, Stop(asked_by="SIGTERM", killed_after=10), "warning", 137, True),
    ],
)
def test_the_exit_rule(returncode: int, stop: Stop, severity: str, status: int, shutdown: bool) -> None:
    ended = ChildExit.from_returncode(returncode, lambda n: signal.Signals(n).name)
    assert exit_severity(ended, stop) == severity
    assert ended.exit_status == status
    produced = events.exit_events(42, ended, stop, 1.5)
    assert [m.name for m in produced] == ["exit", "shutdown"] if shutdown else ["exit"]
    exit_event = produced[0]
    assert (exit_event.value, exit_event.fields["status"], exit_event.fields["pid"]) == (status, severity, 42)
    if returncode < 0:
        assert exit_event.fields["signal"] == signal.Signals(-returncode).name
        assert "code" not in exit_event.fields
    else:
        assert exit_event.fields["code"] == returncode


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))


@given(
    st.integers(1, 2**22),
    st.floats(0, 1e4, allow_nan=False),
    st.integers(0, 2**40),
    st.integers(0, 10**4),
    st.floats(0, 1e6, allow_nan=False),
)
def test_the_readings_events(pid: int, cpu: float, rss: int, fds: int, uptime: float) -> None:
    reading = TreeUsage(at=1.0, cpu_seconds=0.0, rss_bytes=rss, threads=3, fds=fds, processes=2)
    produced = events.usage(pid, reading, cpu, uptime)
    assert [m.name for m in produced] == ["cpu", "memory", "threads", "fds", "processes", "uptime"]
    assert [m.value for m in produced[1:5]] == [rss, 3, fds, 2]
    assert produced[0].value == pytest.approx(cpu, abs=0.005)
    assert produced[5].value == pytest.approx(uptime, abs=0.0005)
    assert all(m.fields == {"pid": pid} for m in produced)
    assert len({id(m.fields) for m in produced}) == len(produced)  # each its own dict


@given(st.text(max_size=600), st.integers(1, 2**22))
def test_the_spawn_event_bounds_the_command(command: str, pid: int) -> None:
    metric = events.spawn(pid, command)
    assert len(metric.fields["command"]) <= events.COMMAND_CHARS
    assert metric.fields["pid"] == pid
    if len(command) <= events.COMMAND_CHARS:
        assert metric.fields["command"] == command


def test_the_start_events() -> None:
    started = events.start(7, Started((80, 8080), 0.4), None)
    assert started == (
        "start",
        0.4,
        {"pid": 7, "ports": "80,8080", "status": "ok", "description": started[2]["description"]},
    )
    late = events.start(7, NotStarted("timeout", 30.0), "warming up")
    assert (late.fields["status"], late.fields["output"], late.fields["ports"]) == ("warning", "warming up", "")
    early = events.start(7, NotStarted("exited", 0.2), None)
    assert "exited" in early.fields["description"]
    assert "--logs" in early.fields["output"]


def test_the_heartbeat_and_host_events() -> None:
    assert events.heartbeat(7, 90) == ("heartbeat", 1, {"pid": 7, "ttl": 90_000, "status": "ok"})
    produced = events.host(HostUsage(1.0, 0.5, 0.25, 0.123456, 0.5, "/srv"))
    assert [(m.name, m.value) for m in produced] == [
        ("host.load1", 1.0),
        ("host.load5", 0.5),
        ("host.load15", 0.25),
        ("host.memory", 0.1235),
        ("host.disk", 0.5),
    ]
    assert produced[-1].fields == {"path": "/srv"}


def test_log_events() -> None:
    assert events.log_line(7, "stderr", "oops", False) == ("log", 1, {"pid": 7, "stream": "stderr", "line": "oops"})
    assert events.log_line(7, "stdout", "ab", True).fields["truncated"] is True
    assert events.log_dropped(7, 12) == ("log.dropped", 12, {"pid": 7, "reason": "rate"})
