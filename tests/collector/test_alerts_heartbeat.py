"""Heartbeat and absent rules through the engine, with the clock handed in.

The heartbeat rule is checked against a reference written here from the issue's words
(a watch per (app, host) from ``*.heartbeat`` events; missed when its ttl passes with
no heartbeat, a heartbeat exactly ttl later being late; critical then; the next
heartbeat resolves; ``*.shutdown`` resolves and forgets; the ttl is the event's in ms,
else the default; the remediation asked for at the Nth missed ttl) over drawn streams of
heartbeats, shutdowns and ticks at drawn times. Then table tests of each behaviour."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.alerts import AbsentRule, AlertEngine, HeartbeatRule, Notification

DEFAULT_TTL_MS = 2000


@dataclass
class Watch:
    last: int
    ttl: int
    missing_since: int | None = None
    remediated: bool = False

    @property
    def deadline(self) -> int:
        return self.last + self.ttl


def reference_timers(watches: dict[tuple[str, str], Watch], now: int, after: int | None) -> list[tuple]:
    out = []
    for (app, host), watch in watches.items():
        if watch.missing_since is None and watch.deadline <= now:
            watch.missing_since = watch.deadline
            out.append(("trigger", f"hb/{app}/host={host}", watch.deadline, "critical"))
        if after is not None and watch.missing_since is not None and not watch.remediated:
            at = watch.missing_since + (after - 1) * watch.ttl
            if at <= now:
                watch.remediated = True
                out.append(("remediate", f"hb/{app}/host={host}", at, "critical"))
    return out


OPS = st.lists(
    st.tuples(
        st.integers(0, 3000),  # ms since the previous op
        st.sampled_from(["beat", "beat", "beat", "shutdown", "tick"]),
        st.sampled_from(["web", "db"]),
        st.sampled_from(["h1", "h2"]),
        st.sampled_from([None, 500, 1000, 2500, -1, "soon"]),  # the event's ttl; the last two are bad
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(OPS, st.sampled_from([None, 1, 2, 3]))
def test_heartbeats_follow_the_reference(ops: list[tuple], after: int | None) -> None:
    rule = HeartbeatRule(
        name="hb", default_ttl=DEFAULT_TTL_MS / 1000, flap_hold=0, remediation=("fix",), remediate_after=after
    )
    engine = AlertEngine([rule])
    watches: dict[tuple[str, str], Watch] = {}
    now = 1_000_000
    bad_ttls = 0
    for gap, op, app, host, ttl in ops:
        now += gap
        expected = reference_timers(watches, now, after if after is not None else None)
        if after is None:  # remediation on open: with each trigger
            expected += [("remediate", key, at, sev) for action, key, at, sev in list(expected) if action == "trigger"]
        if op == "tick":
            got = engine.tick(now)
        else:
            event: dict[str, object] = {"name": f"{app}.{'heartbeat' if op == 'beat' else 'shutdown'}", "host": host}
            if ttl is not None and op == "beat":
                event["ttl"] = ttl
                bad_ttls += ttl in (-1, "soon")
            got = engine.observe([event], now)
            watch = watches.get((app, host))
            key = f"hb/{app}/host={host}"
            if op == "beat":
                good = isinstance(ttl, int) and ttl > 0
                if watch is not None and watch.missing_since is not None:
                    expected.append(("resolve", key, now, "ok"))
                watches[(app, host)] = Watch(now, ttl if good else DEFAULT_TTL_MS)  # type: ignore[arg-type]
            elif watch is not None:
                if watch.missing_since is not None:
                    expected.append(("resolve", key, now, "ok"))
                del watches[(app, host)]
        assert sorted(seen(got)) == sorted(expected)
        open_keys = {f"hb/{a}/host={h}" for (a, h), w in watches.items() if w.missing_since is not None}
        assert {i.key for i in engine.open_incidents()} == open_keys
        assert engine.watched() == {"hb": len(watches)}
    assert engine.stats.refused[("hb", "bad ttl")] == bad_ttls


def seen(notifications: list[Notification]) -> list[tuple]:
    return [(n.action, n.incident.key, n.at_ms, n.incident.severity) for n in notifications]


# -- table tests ------------------------------------------------------------------------


def heartbeat(app: str = "web", host: str = "web-1", **fields: object) -> dict[str, object]:
    return {"name": f"{app}.heartbeat", "host": host, **fields}


def test_a_missed_heartbeat_is_one_critical_incident_at_its_ttl() -> None:
    engine = AlertEngine([HeartbeatRule(name="heartbeats")])
    assert engine.observe([heartbeat(ttl=30_000, time=5)], 1_000) == []
    assert engine.tick(30_999) == []
    out = engine.tick(31_000)
    assert seen(out) == [("trigger", "heartbeats/web/host=web-1", 31_000, "critical")]
    incident = out[0].incident
    assert incident.kind == "heartbeat"
    assert incident.rule == "heartbeats"
    assert incident.labels == (("app", "web"), ("host", "web-1"))
    assert incident.summary == "web on host=web-1: no heartbeat for 30 s (ttl 30 s)"
    assert engine.tick(200_000) == []  # one incident, not one per ttl


def test_the_next_heartbeat_resolves_and_the_watch_goes_on() -> None:
    engine = AlertEngine([HeartbeatRule(name="hb", flap_hold=0)])
    engine.observe([heartbeat(ttl=1000)], 0)
    engine.tick(5000)
    out = engine.observe([heartbeat(ttl=1000)], 6000)
    assert seen(out) == [("resolve", "hb/web/host=web-1", 6000, "ok")]
    assert out[0].incident.summary == "web on host=web-1: heartbeat back"
    assert out[0].incident.opened_ms == 1000
    assert seen(engine.tick(7000)) == [("trigger", "hb/web/host=web-1", 7000, "critical")]


def test_a_heartbeat_back_soon_after_the_page_resolves_once_it_has_held_the_flap_hold() -> None:
    engine = AlertEngine([HeartbeatRule(name="hb", flap_hold=60)])
    engine.observe([heartbeat(ttl=10_000)], 0)
    assert len(engine.tick(10_000)) == 1  # paged at once: the service had been well
    assert engine.observe([heartbeat(ttl=10_000)], 15_000) == []  # back after 5 s: could be a flap
    for t in range(20_000, 75_000, 5_000):
        assert engine.observe([heartbeat(ttl=10_000)], t) == []
    assert seen(engine.tick(75_000)) == [("resolve", "hb/web/host=web-1", 75_000, "ok")]


def test_the_default_ttl_serves_heartbeats_without_one_and_bad_ones_are_counted() -> None:
    engine = AlertEngine([HeartbeatRule(name="hb", default_ttl=5)])
    engine.observe([heartbeat(), heartbeat(host="b", ttl="30s"), heartbeat(host="c", ttl=float("nan"))], 0)
    assert engine.stats.refused[("hb", "bad ttl")] == 2
    assert engine.tick(4_999) == []
    assert sorted(n.incident.key for n in engine.tick(5_000)) == ["hb/web/host=b", "hb/web/host=c", "hb/web/host=web-1"]


def test_a_shutdown_resolves_and_forgets() -> None:
    engine = AlertEngine([HeartbeatRule(name="hb", flap_hold=0)])
    engine.observe([heartbeat(ttl=1000), heartbeat(host="b", ttl=1000)], 0)
    engine.tick(2000)
    out = engine.observe([{"name": "web.shutdown", "host": "web-1"}], 2500)
    assert seen(out) == [("resolve", "hb/web/host=web-1", 2500, "ok")]
    assert out[0].incident.summary == "web on host=web-1 shut down"
    assert engine.watched() == {"hb": 1}
    engine.observe([{"name": "web.shutdown", "host": "b"}], 2600)  # well or not, forgotten
    assert engine.watched() == {"hb": 0}
    assert engine.tick(100_000) == []
    assert engine.open_incidents() == []


def test_key_fields_and_names_without_an_app() -> None:
    engine = AlertEngine([HeartbeatRule(name="hb", key_fields=("host", "node"), match="*heartbeat")])
    engine.observe([{"name": "heartbeat", "host": "a", "node": 1, "ttl": 10}, heartbeat(host="a")], 0)
    keys = sorted(n.incident.key for n in engine.tick(60_000))
    assert keys == ["hb//host=a/node=1", "hb/web/host=a/node="]


def test_watches_are_bounded_by_max_keys() -> None:
    engine = AlertEngine([HeartbeatRule(name="hb", max_keys=2)])
    engine.observe([heartbeat(host=str(i)) for i in range(5)], 0)
    assert engine.watched() == {"hb": 2}
    assert engine.stats.keys_dropped["hb"] == 3
    engine.observe([heartbeat(host="0")], 10)  # a known key still beats
    assert engine.stats.keys_dropped["hb"] == 3


def test_remediation_at_the_nth_missed_ttl_even_when_the_clock_jumps() -> None:
    engine = AlertEngine([HeartbeatRule(name="hb", remediation=("systemctl", "restart", "web"), remediate_after=3)])
    engine.observe([heartbeat(ttl=1000)], 0)
    out = engine.tick(10_000)  # ten ttls in one tick
    assert [(n.action, n.at_ms, n.remediation) for n in out] == [
        ("trigger", 1000, ()),
        ("remediate", 3000, ("systemctl", "restart", "web")),
    ]
    assert out[1].incident.summary == "web on host=web-1: no heartbeat for 3 s (ttl 1 s)"
    assert engine.tick(100_000) == []  # once per run of misses


def test_remediation_on_open_by_default() -> None:
    engine = AlertEngine([HeartbeatRule(name="hb", remediation=("fix",))])
    engine.observe([heartbeat(ttl=1000)], 0)
    assert [n.action for n in engine.tick(1000)] == ["trigger", "remediate"]


def test_a_late_call_opens_the_incident_at_its_time_before_the_heartbeat_that_resolves_it() -> None:
    engine = AlertEngine([HeartbeatRule(name="hb", flap_hold=0)])
    engine.observe([heartbeat(ttl=1000)], 0)
    out = engine.observe([heartbeat(ttl=1000)], 5000)  # no tick in between
    assert seen(out) == [
        ("trigger", "hb/web/host=web-1", 1000, "critical"),
        ("resolve", "hb/web/host=web-1", 5000, "ok"),
    ]


# -- absent -------------------------------------------------------------------------------


def test_absent_watches_a_glob_from_the_start() -> None:
    engine = AlertEngine([AbsentRule(name="backups", match="backup.*.done", after=3600, flap_hold=0)])
    assert engine.tick(1_000) == []  # the clock starts
    assert engine.observe([{"name": "backup.db.started"}], 2_000) == []  # not a match
    out = engine.tick(3_601_000)
    assert seen(out) == [("trigger", "backups/backup.*.done", 3_601_000, "critical")]
    assert out[0].incident.summary == "no backup.*.done for 3600 s"
    out = engine.observe([{"name": "backup.db.done"}], 3_700_000)
    assert seen(out) == [("resolve", "backups/backup.*.done", 3_700_000, "ok")]
    assert engine.tick(7_299_999) == []
    assert seen(engine.tick(7_300_000)) == [("trigger", "backups/backup.*.done", 7_300_000, "critical")]


def test_absent_per_key_with_a_filter_and_remediation() -> None:
    rule = AbsentRule(
        name="jobs",
        match="cron.run",
        where={"job": "nightly-*"},
        after=10,
        key_fields=("host",),
        severity="warning",
        remediation=("rerun",),
        remediate_after=2,
        flap_hold=0,
    )
    engine = AlertEngine([rule])
    engine.observe([{"name": "cron.run", "job": "nightly-db", "host": "a"}, {"name": "cron.run", "job": "hourly"}], 0)
    assert engine.watched() == {"jobs": 1}
    engine.observe([{"name": "cron.run", "job": "hourly", "host": "a"}], 5_000)  # filtered out: no effect
    out = engine.tick(25_000)
    assert [(n.action, n.incident.key, n.incident.severity, n.at_ms) for n in out] == [
        ("trigger", "jobs/cron.run/host=a", "warning", 10_000),
        ("remediate", "jobs/cron.run/host=a", "warning", 20_000),
    ]
    out = engine.observe([{"name": "cron.run", "job": "nightly-db", "host": "a"}], 26_000)
    assert seen(out) == [("resolve", "jobs/cron.run/host=a", 26_000, "ok")]
