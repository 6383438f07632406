"""The status rule through the engine, with the clock handed in.

Against a reference written here from the rule's words: a key (name, host) is at the
level of its status (ok/okay 0, warning 1, unknown 2, critical 3, any case, Nagios's
0-3); a level counts once its key has been at it or worse for the last
``for_evaluations`` statuses and for ``for_seconds`` since the first of them; the
incident is the highest level that counts (opened, updated, resolved as it changes);
the remediation is asked for at the Nth non-ok status in a row. Drawn streams of
statuses and ticks at drawn times. Then table tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.alerts import AlertEngine, Notification, StatusRule

WORDS = {"ok": 0, "okay": 0, "OK": 0, "Okay": 0, "warning": 1, "WARNING": 1, "unknown": 2, "critical": 3}
NAGIOS = {0: 0, 1: 1, 2: 3, 3: 2}
NAMES = ("", "warning", "unknown", "critical")


@dataclass
class Key:
    history: list[tuple[int, int]] = field(default_factory=list)  # (time, level) of every status
    verdict: int = 0
    streak: int = 0  # non-ok statuses in a row


def run_of(history: list[tuple[int, int]], level: int) -> tuple[int | None, int]:
    """The start and length of the current run of statuses at ``level`` or worse."""
    start, count = None, 0
    for at, seen_level in reversed(history):
        if seen_level < level:
            break
        start, count = at, count + 1
    return start, count


def verdict_at(history: list[tuple[int, int]], now: int, count: int, seconds: int) -> int:
    for level in (3, 2, 1):
        start, length = run_of(history, level)
        if start is not None and length >= count and now - start >= seconds:
            return level
    return 0


def change(key: str, state: Key, verdict: int, at: int) -> list[tuple]:
    if verdict == state.verdict:
        return []
    action = "trigger" if state.verdict == 0 else "resolve" if verdict == 0 else "update"
    state.verdict = verdict
    return [(action, key, at, "ok" if verdict == 0 else NAMES[verdict])]


OPS = st.lists(
    st.tuples(
        st.integers(0, 2000),
        st.sampled_from(["db.check", "web.check", "tick"]),
        st.sampled_from(["a", "b"]),
        st.sampled_from([*WORDS, *NAGIOS, "bogus", True]),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(OPS, st.sampled_from([1, 2, 3]), st.sampled_from([0, 1000, 2500]), st.sampled_from([None, 1, 2]))
def test_statuses_follow_the_reference(ops: list[tuple], count: int, seconds: int, after: int | None) -> None:
    rule = StatusRule(
        name="st",
        for_evaluations=count,
        for_seconds=seconds / 1000,
        expire=0,
        flap_hold=0,
        remediation=("fix",),
        remediate_after=after or 1,
    )
    engine = AlertEngine([rule])
    keys: dict[str, Key] = {}
    now, bad = 0, 0
    for gap, name, host, status in ops:
        previous, now = now, now + gap
        expected: list[tuple] = []
        for key, state in keys.items():  # runs that come of age between the calls
            due = sorted(
                start + seconds
                for level in (1, 2, 3)
                for start, length in [run_of(state.history, level)]
                if start is not None and length >= count and previous < start + seconds <= now
            )
            for at in due:
                expected += change(key, state, verdict_at(state.history, at, count, seconds), at)
        if name == "tick":
            got = engine.tick(now)
        else:
            got = engine.observe([{"name": name, "host": host, "status": status}], now)
            level = WORDS.get(status) if isinstance(status, str) else None if status is True else NAGIOS.get(status)
            if level is None:
                bad += 1
            else:
                key = f"st/{name}/host={host}"
                state = keys.setdefault(key, Key())
                state.history.append((now, level))
                expected += change(key, state, verdict_at(state.history, now, count, seconds), now)
                state.streak = state.streak + 1 if level else 0
                if state.streak == (after or 1):  # about the open incident, else the failing check
                    expected.append(("remediate", key, now, NAMES[state.verdict or level]))
        assert sorted(seen(got)) == sorted(expected)
        assert {(i.key, i.severity) for i in engine.open_incidents()} == {
            (key, NAMES[s.verdict]) for key, s in keys.items() if s.verdict
        }
    assert engine.stats.refused[("st", "bad status")] == bad


def seen(notifications: list[Notification]) -> list[tuple]:
    return [(n.action, n.incident.key, n.at_ms, n.incident.severity) for n in notifications]


# -- table tests ------------------------------------------------------------------------


def test_okay_resolves_as_ok_does() -> None:
    """numbat-analyzer resolved on ``ok`` only, while the emitter documents ``okay``."""
    engine = AlertEngine([StatusRule(name="status", flap_hold=0)])
    for word in ("ok", "okay", "OKAY"):
        engine.observe([{"name": "db.replication", "host": "db-1", "status": "critical"}], 0)
        out = engine.observe([{"name": "db.replication", "host": "db-1", "status": word}], 1000)
        assert seen(out) == [("resolve", "status/db.replication/host=db-1", 1000, "ok")]


def test_an_incident_says_what_the_event_said() -> None:
    engine = AlertEngine([StatusRule(name="status")])
    event = {"name": "db.replication", "host": "db-1", "status": "warning", "description": "lag 30 s", "value": 30}
    (out,) = engine.observe([event], 5)
    incident = out.incident
    assert (out.action, incident.key, incident.severity) == ("trigger", "status/db.replication/host=db-1", "warning")
    assert incident.summary == "db.replication on host=db-1 is warning: lag 30 s"
    assert incident.details == (("description", "lag 30 s"),)
    assert incident.value == 30.0
    assert incident.labels == (("host", "db-1"), ("name", "db.replication"))


def test_nagios_codes_are_told_by_their_words() -> None:
    engine = AlertEngine([StatusRule(name="st")])
    (out,) = engine.observe([{"name": "check_disk", "host": "a", "status": 2}], 0)
    assert (out.incident.severity, out.incident.summary) == ("critical", "check_disk on host=a is critical")


def test_key_fields_and_match_choose_what_is_one_incident() -> None:
    engine = AlertEngine([StatusRule(name="checks", match="check.*", key_fields=("host", "port"))])
    out = engine.observe(
        [
            {"name": "check.http", "host": "a", "port": 80, "status": "critical"},
            {"name": "check.http", "host": "a", "port": 443, "status": "critical"},
            {"name": "check.http", "host": "a", "port": 443, "status": "critical"},  # the same incident
            {"name": "web.latency", "host": "a", "status": "critical"},  # not matched
        ],
        0,
    )
    assert [n.incident.key for n in out] == ["checks/check.http/host=a/port=80", "checks/check.http/host=a/port=443"]


def test_a_key_that_goes_quiet_expires_after_expire_or_twice_its_ttl() -> None:
    engine = AlertEngine([StatusRule(name="st", expire=300, flap_hold=0)])
    engine.observe([{"name": "a", "status": "critical"}, {"name": "b", "status": "critical", "ttl": 10_000}], 0)
    out = engine.tick(19_999)
    assert out == []
    out = engine.tick(20_000)  # twice b's ttl
    assert seen(out) == [("resolve", "st/b/host=", 20_000, "ok")]
    assert "expired" in out[0].incident.summary
    engine.observe([{"name": "a", "status": "critical"}], 100_000)  # a says it again: its expiry moves
    assert engine.tick(399_999) == []
    assert seen(engine.tick(400_000)) == [("resolve", "st/a/host=", 400_000, "ok")]
    assert engine.watched() == {"st": 0}


def test_expire_zero_keeps_a_status_until_it_is_ok() -> None:
    engine = AlertEngine([StatusRule(name="st", expire=0)])
    engine.observe([{"name": "a", "status": "critical", "ttl": 10}], 0)
    assert engine.tick(10**12) == []
    assert len(engine.open_incidents()) == 1


def test_the_second_failed_check_in_a_row_heals_and_the_third_pages() -> None:
    """npm's "restores the replication after the second failed check in a row"."""
    rule = StatusRule(
        name="replication",
        for_evaluations=3,
        remediation=("/usr/local/bin/restart-replication",),
        remediate_after=2,
    )
    engine = AlertEngine([rule])
    check = {"name": "db.replication", "host": "db-2", "status": "critical"}
    assert engine.observe([check], 0) == []
    out = engine.observe([check], 60_000)
    assert [(n.action, n.remediation, n.incident.severity) for n in out] == [
        ("remediate", ("/usr/local/bin/restart-replication",), "critical")
    ]
    assert [n.action for n in engine.observe([check], 120_000)] == ["trigger"]
    assert engine.observe([check], 180_000) == []  # once per run of failures
    engine.observe([{**check, "status": "ok"}], 240_000)
    engine.observe([check], 300_000)
    assert [n.action for n in engine.observe([check], 360_000)] == ["remediate"]  # a new run


def test_for_seconds_opens_when_the_breach_has_lasted_without_a_new_status() -> None:
    engine = AlertEngine([StatusRule(name="st", for_seconds=30)])
    engine.observe([{"name": "a", "status": "critical"}], 0)
    assert engine.tick(29_999) == []
    assert seen(engine.tick(30_000)) == [("trigger", "st/a/host=", 30_000, "critical")]


def test_a_warning_under_a_critical_run_counts_as_what_it_is() -> None:
    engine = AlertEngine([StatusRule(name="st", for_evaluations=2, flap_hold=0)])
    statuses = ["critical", "warning", "critical", "critical", "unknown", "ok"]
    out = []
    for i, status in enumerate(statuses):
        out += engine.observe([{"name": "a", "status": status}], i * 1000)
    assert [(n.action, n.incident.severity, n.at_ms) for n in out] == [
        ("trigger", "warning", 1000),  # two in a row at warning or worse
        ("update", "critical", 3000),  # two in a row at critical
        ("update", "unknown", 4000),  # the critical run ends; the unknown-or-worse run goes on
        ("resolve", "ok", 5000),
    ]


def test_bad_statuses_are_counted_and_ignored() -> None:
    engine = AlertEngine([StatusRule(name="st")])
    out = engine.observe([{"name": "a", "status": s} for s in ("failing", 7, None, 2.5, [1], False)], 0)
    assert out == []
    assert engine.stats.refused[("st", "bad status")] == 6
    assert engine.stats.failed == 0
