"""The incident book: deduplication, flap damping, reminders and silences, with the
clock handed in (no sleeping).

Flap damping is checked as the properties an operator is promised, over drawn streams
of observed states: each notification says the state observed when it was decided; a
change out of a state that had held ``flap_hold`` is notified at once, any other only
once it has held ``flap_hold`` itself; a state that holds ``flap_hold`` is the
incident's state by then; and an incident is only ever opened when none is, updated
when one is, resolved when one is."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.alerts import Notification
from collector.alerts._incidents import IncidentBook, Policy, Subject


def subject(key: str = "r/web/host=a", hold: int = 0, renotify: int = 0, **policy: object) -> Subject:
    return Subject(key, (("host", "a"), ("name", "web")), Policy("r", "status", hold, renotify, **policy))  # type: ignore[arg-type]


def advance(book: IncidentBook, now: int) -> list[Notification]:
    """Run the book's timers due by ``now``, as the engine does; what they sent."""
    while (due := book.next_due()) is not None and due <= now:
        book.run_next(now)
    out, book.out = book.out, []
    return out


def sent(book: IncidentBook) -> list[Notification]:
    out, book.out = book.out, []
    return out


def actions(notifications: list[Notification]) -> list[tuple[str, str, int]]:
    return [(n.action, n.incident.severity, n.at_ms) for n in notifications]


# -- deduplication and the incident's life -----------------------------------------------


def test_one_incident_per_key_opened_updated_resolved() -> None:
    book = IncidentBook()
    key = subject()
    book.report(key, 1000, "warning", "web is warning", value=3.0)
    book.report(key, 2000, "warning", "web is still warning", value=4.0)  # no change: nothing sent
    book.report(key, 3000, "critical", "web is critical", value=9.0)
    book.report(key, 4000, "critical", "web is critical")
    book.report(key, 5000, "ok", "web is ok")
    out = sent(book)
    assert actions(out) == [("trigger", "warning", 1000), ("update", "critical", 3000), ("resolve", "ok", 5000)]
    trigger, update, resolve = (n.incident for n in out)
    assert trigger.opened_ms == trigger.updated_ms == 1000
    assert trigger.summary == "web is warning"
    assert trigger.value == 3.0
    assert (update.opened_ms, update.updated_ms, update.summary, update.value) == (1000, 3000, "web is critical", 9.0)
    assert (resolve.opened_ms, resolve.resolved_ms, resolve.severity) == (1000, 5000, "ok")
    assert {trigger.key, update.key, resolve.key} == {"r/web/host=a"}
    assert trigger.labels == (("host", "a"), ("name", "web"))
    assert book.open_incidents() == []


def test_open_incidents_are_listed_by_key_with_what_they_last_said() -> None:
    book = IncidentBook()
    book.report(subject("b"), 1, "critical", "b down")
    book.report(subject("a"), 2, "warning", "a slow")
    assert [(i.key, i.severity) for i in book.open_incidents()] == [("a", "warning"), ("b", "critical")]


def test_a_well_key_is_forgotten_once_it_can_damp_nothing() -> None:
    book = IncidentBook()
    book.report(subject(hold=1000), 0, "critical", "x")
    book.report(subject(hold=1000), 5000, "ok", "x")  # resolved at once: critical had held 5 s
    assert len(book) == 1  # kept until ok has held 1 s: a relapse before then waits for its hold
    advance(book, 5999)
    assert len(book) == 1
    advance(book, 6000)
    assert len(book) == 0
    book.report(subject(hold=1000), 6000, "ok", "x")
    assert len(book) == 0


# -- flap damping -------------------------------------------------------------------------

SEVERITY = st.sampled_from(["ok", "warning", "critical", "unknown"])
HOLDS = st.sampled_from([0, 1, 1000, 5000])
#: (ms since the previous report, at least 1; the severity observed from then on)
REPORTS = st.lists(st.tuples(st.integers(1, 8000), SEVERITY), min_size=1, max_size=60)


@settings(max_examples=400, deadline=None)
@given(HOLDS, REPORTS)
def test_flap_damping_keeps_its_promises(hold: int, reports: list[tuple[int, str]]) -> None:
    book = IncidentBook()
    key = subject(hold=hold)
    now = 0
    observed, since, held_before = "ok", -(10**9), 10**9  # a key the book does not know: ok for ever
    open_severity = "ok"  # the incident's state as the notifications tell it

    def check(n: Notification) -> None:
        nonlocal open_severity
        assert n.incident.severity == observed, "a decision says the state observed then"
        if n.at_ms == since:
            assert held_before >= hold, "at once only out of a state that had held flap_hold"
        else:
            assert n.at_ms == since + hold, "else once the state has held flap_hold, not before, not later"
        open_severity = check_transition(open_severity, n)

    for gap, severity in reports:
        now += gap
        for n in advance(book, now):  # timers up to the report, then the report
            check(n)
        book.report(key, now, severity, f"now {severity}")  # type: ignore[arg-type]
        if severity != observed:
            observed, since, held_before = severity, now, now - since
        out = sent(book)
        if severity != open_severity and since == now and held_before >= hold:
            assert len(out) == 1, "a change out of a steady state is notified at once"
        for n in out:
            check(n)
    # the last state holds: by one hold later it is the incident's state
    for n in advance(book, now + hold):
        check(n)
    assert open_severity == observed
    assert [i.severity for i in book.open_incidents()] == ([] if observed == "ok" else [observed])


def check_transition(open_severity: str, n: Notification) -> str:
    """What a notification may follow, and the state it leaves."""
    if n.action == "trigger":
        assert open_severity == "ok", "opened only when nothing is open"
    elif n.action == "update":
        assert open_severity not in ("ok", n.incident.severity), "an update changes an open incident's severity"
    else:
        assert n.action == "resolve"
        assert open_severity != "ok", "resolved only when open"
    return n.incident.severity


def test_a_check_flapping_faster_than_its_hold_pages_once() -> None:
    book = IncidentBook()
    key = subject(hold=60_000)
    out = []
    for second in range(0, 300, 10):  # critical and ok in turn, every 10 s for 5 minutes
        out += advance(book, second * 1000)
        book.report(key, second * 1000, "critical" if second % 20 == 0 else "ok", "flap")
        out += sent(book)
    assert actions(out) == [("trigger", "critical", 0)]
    book.report(key, 300_000, "ok", "settled")  # ok since the flap at 290 s
    assert advance(book, 349_999) + sent(book) == []
    resolved = advance(book, 350_000)
    assert actions(resolved) == [("resolve", "ok", 350_000)]
    assert resolved[0].incident.resolved_ms == 290_000


# -- reminders ----------------------------------------------------------------------------


def test_an_open_incident_is_renotified_at_its_interval_once_however_late_the_clock() -> None:
    book = IncidentBook()
    key = subject(renotify=10_000)
    book.report(key, 0, "critical", "down", value=1.0)
    assert actions(sent(book)) == [("trigger", "critical", 0)]
    assert advance(book, 9_999) == []
    book.report(key, 9_999, "critical", "still down", value=2.0)
    reminder = advance(book, 10_000)
    assert actions(reminder) == [("renotify", "critical", 10_000)]
    assert (reminder[0].incident.summary, reminder[0].incident.value) == ("still down", 2.0)
    assert actions(advance(book, 35_000)) == [("renotify", "critical", 20_000)]  # one, not two
    assert advance(book, 39_999) == []
    assert actions(advance(book, 40_000)) == [("renotify", "critical", 40_000)]
    book.report(key, 41_000, "ok", "up")
    sent(book)
    assert advance(book, 100_000) == []


# -- silences -----------------------------------------------------------------------------


def test_a_silenced_trigger_is_dropped_and_announced_when_the_silence_ends() -> None:
    book = IncidentBook()
    book.add_silence("r/web/*", 10_000, 0, "deploy", "s1")
    book.report(subject(), 1000, "critical", "down")
    assert sent(book) == []
    assert book.stats.silenced["trigger"] == 1
    assert [i.key for i in book.open_incidents()] == ["r/web/host=a"]  # open, listed, not paged
    out = advance(book, 10_000)
    assert actions(out) == [("trigger", "critical", 10_000)]
    assert out[0].incident.opened_ms == 1000
    assert book.silences() == []


def test_an_incident_opened_and_closed_under_a_silence_sends_nothing() -> None:
    book = IncidentBook()
    book.add_silence("r/*", 10_000, 0)
    book.report(subject(), 1000, "critical", "down")
    book.report(subject(), 2000, "ok", "up")
    assert sent(book) + advance(book, 20_000) == []
    assert book.stats.silenced == {"trigger": 1, "resolve": 1}


def test_what_was_paged_before_a_silence_is_resolved_through_it() -> None:
    book = IncidentBook()
    key = subject(renotify=1000)
    book.report(key, 0, "warning", "slow")
    assert actions(sent(book)) == [("trigger", "warning", 0)]
    book.add_silence("r/web/host=a", 60_000, 500)
    assert advance(book, 1000) == []  # the reminder is silenced
    book.report(key, 1500, "critical", "down")  # so is the update
    assert sent(book) == []
    book.report(key, 2000, "ok", "up")
    assert actions(sent(book)) == [("resolve", "ok", 2000)]  # the pager closes what it opened
    assert book.stats.silenced == {"renotify": 1, "update": 1}


def test_removing_a_silence_announces_what_it_held_unless_another_holds_it() -> None:
    book = IncidentBook()
    book.add_silence("r/web/*", 100_000, 0, silence_id="broad")
    book.add_silence("r/web/host=b", 100_000, 0, silence_id="narrow")
    book.report(subject("r/web/host=a"), 10, "critical", "a down")
    book.report(subject("r/web/host=b"), 10, "critical", "b down")
    assert sent(book) == []
    book.remove_silence("broad", 500)
    out = sent(book)
    assert [(n.action, n.incident.key, n.at_ms) for n in out] == [("trigger", "r/web/host=a", 500)]
    assert [s.id for s in book.silences()] == ["narrow"]
    with pytest.raises(KeyError):
        book.remove_silence("broad", 600)


def test_a_silence_matches_keys_by_glob_and_only_from_its_creation() -> None:
    book = IncidentBook()
    book.add_silence("r/db/*", 100_000, 50)
    book.report(subject("r/web/host=a"), 60, "critical", "web down")
    book.report(subject("r/db/host=a"), 40, "critical", "db down before the silence")
    book.report(subject("r/db/host=b"), 60, "critical", "db down under it")
    assert [n.incident.key for n in sent(book)] == ["r/web/host=a", "r/db/host=a"]


def test_remediation_goes_out_unless_silenced() -> None:
    book = IncidentBook()
    fix = subject(remediation=("restart", "web"))
    book.remediate(fix, 5, "critical", "second failure", value=2.0)
    out = sent(book)
    assert [(n.action, n.remediation, n.incident.summary, n.at_ms) for n in out] == [
        ("remediate", ("restart", "web"), "second failure", 5)
    ]
    book.add_silence("r/*", 1000, 10)
    book.remediate(fix, 20, "critical", "again")
    assert sent(book) == []
    assert book.stats.silenced["remediate"] == 1
    book.remediate(subject(), 30, "critical", "no command")  # a rule without one asks nothing
    assert sent(book) == []


def test_remediation_on_open_follows_the_trigger() -> None:
    book = IncidentBook()
    book.report(subject(remediation=("fix",), remediate_on_open=True), 7, "critical", "down")
    assert [(n.action, n.remediation) for n in sent(book)] == [("trigger", ()), ("remediate", ("fix",))]


@pytest.mark.parametrize(
    ("match", "ends", "now", "problem"),
    [
        ("", 10, 0, "match"),
        ("r/*", 0, 0, "ends_ms"),
        ("r/*", -5, 0, "ends_ms"),
        ("r/*", 1.5, 0, "ends_ms"),
    ],
)
def test_a_bad_silence_is_refused_by_name(match: str, ends: int, now: int, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        IncidentBook().add_silence(match, ends, now)


def test_silences_are_bounded() -> None:
    book = IncidentBook(max_silences=2)
    book.add_silence("a", 10, 0)
    book.add_silence("b", 10, 0)
    with pytest.raises(ValueError, match="max_silences"):
        book.add_silence("c", 10, 0)
    advance(book, 10)  # both end
    book.add_silence("c", 20, 10)
    with pytest.raises(ValueError, match="taken"):
        book.add_silence("d", 20, 10, silence_id=book.silences()[0].id)
