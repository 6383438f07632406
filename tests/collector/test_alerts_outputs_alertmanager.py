"""The Alertmanager output against a real Prometheus Alertmanager (Debian's 0.25) on
127.0.0.1: the alert is seen through its API (GET /api/v2/alerts) and in the firing and
resolved notifications Alertmanager itself sends; a severity change replaces the alert; the
re-posts keep it alive past its lease and bring it back to an Alertmanager restarted."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import trio

from collector.alerts.outputs import AlertmanagerOptions, AlertmanagerOutput

from .alert_outputs import HEARTBEAT, T0, Counts, in_trio, notify, running, until
from .alert_receivers import Reply
from .alertmanager import Alertmanager

FAST = {"retry_base": 0.02, "retry_cap": 0.2, "timeout": 2.0}


def now_ms() -> int:
    return int(time.time() * 1000)


def at(text: str) -> int:
    """An RFC 3339 time as Alertmanager or the output writes it, in ms since the epoch
    (Alertmanager drops trailing zeros from the fraction: compare times, not texts)."""
    return round(dt.datetime.fromisoformat(text).timestamp() * 1000)


async def alerts_when(am: Alertmanager, predicate: Callable[[list[dict]], bool], timeout: float = 5.0) -> list[dict]:
    """Alertmanager's active alerts, once ``predicate`` holds of them."""
    with trio.fail_after(timeout):
        while not predicate(alerts := await trio.to_thread.run_sync(am.alerts)):
            await trio.sleep(0.05)
    return alerts


def severities(alerts: list[dict]) -> list[str]:
    return [alert["labels"]["severity"] for alert in alerts]


def hook_alerts(am: Alertmanager, status: str) -> list[dict]:
    """The alerts of Alertmanager's own notifications to its webhook, in one status."""
    return [alert for body in am.hook.bodies() for alert in body["alerts"] if alert["status"] == status]  # type: ignore[index]


@in_trio
async def test_an_incident_fires_in_alertmanager_and_then_resolves(alertmanager) -> None:
    opened = now_ms()
    labels = (("app", "web"), ("host", "web-1"), ("node.id", "a1"))
    output = AlertmanagerOutput("am", AlertmanagerOptions(url=alertmanager.url, **FAST))
    counts = Counts()
    async with running(counts, output) as [runner]:
        runner.submit(notify("trigger", at_ms=opened, opened_ms=opened, updated_ms=opened, labels=labels))
        [alert] = await alerts_when(alertmanager, lambda alerts: len(alerts) == 1)
        expected_labels = {
            "alertname": "heartbeat",
            "app": "web",
            "host": "web-1",
            "node_id": "a1",
            "severity": "critical",
        }
        assert alert["labels"] == expected_labels
        assert alert["annotations"] == {
            "summary": HEARTBEAT.summary,
            "incident_key": HEARTBEAT.key,
            "kind": "heartbeat",
            "value": "45.0",
            "description": "no beat since 22:12:35",
        }
        assert at(alert["startsAt"]) == opened
        assert now_ms() + 230_000 < at(alert["endsAt"]) <= now_ms() + 240_000  # the lease: 240 s
        assert alert["status"]["state"] == "active"
        await until(lambda: hook_alerts(alertmanager, "firing"), timeout=5)
        assert hook_alerts(alertmanager, "firing")[0]["labels"] == expected_labels

        resolved = now_ms()
        runner.submit(notify("resolve", at_ms=resolved, severity="ok", resolved_ms=resolved, labels=labels))
        await alerts_when(alertmanager, lambda alerts: alerts == [])
        await until(lambda: hook_alerts(alertmanager, "resolved"), timeout=5)
    [gone] = hook_alerts(alertmanager, "resolved")
    assert (gone["labels"], at(gone["endsAt"])) == (expected_labels, resolved)
    assert counts.sent("am") == 2


@in_trio
async def test_a_severity_change_replaces_the_alert(alertmanager) -> None:
    opened = now_ms()
    output = AlertmanagerOutput("am", AlertmanagerOptions(url=alertmanager.url, **FAST))
    counts = Counts()
    async with running(counts, output) as [runner]:
        runner.submit(notify("trigger", at_ms=opened, opened_ms=opened, updated_ms=opened, severity="warning"))
        await alerts_when(alertmanager, lambda alerts: severities(alerts) == ["warning"])
        runner.submit(notify("update", at_ms=now_ms(), opened_ms=opened, updated_ms=now_ms()))
        [alert] = await alerts_when(alertmanager, lambda alerts: severities(alerts) == ["critical"])
    assert at(alert["startsAt"]) == opened


@in_trio
async def test_a_resolve_the_output_did_not_post_still_closes_the_alert(alertmanager) -> None:
    """After numbatd restarts, the new output has no memory of what it posted, nor the
    incident of its severity: the resolve closes the alert whatever its severity was."""
    opened = now_ms()
    counts = Counts()
    before = AlertmanagerOutput("before", AlertmanagerOptions(url=alertmanager.url, **FAST))
    after = AlertmanagerOutput("after", AlertmanagerOptions(url=alertmanager.url, **FAST))
    async with running(counts, before, after) as [first, second]:
        first.submit(notify("trigger", at_ms=opened, opened_ms=opened, updated_ms=opened, severity="unknown"))
        await alerts_when(alertmanager, lambda alerts: len(alerts) == 1)
        second.submit(notify("resolve", at_ms=now_ms(), severity="ok", resolved_ms=now_ms()))
        await alerts_when(alertmanager, lambda alerts: alerts == [])


@in_trio
async def test_open_alerts_are_posted_again_past_their_lease_and_after_alertmanager_restarts(
    alertmanager, tmp_path
) -> None:
    opened = now_ms()
    options = AlertmanagerOptions(url=alertmanager.url, resend_interval=0.3, lease=1.0, **FAST | {"timeout": 0.2})
    output = AlertmanagerOutput("am", options)
    counts = Counts()
    async with running(counts, output) as [runner]:
        runner.submit(notify("trigger", at_ms=opened, opened_ms=opened, updated_ms=opened))
        [first] = await alerts_when(alertmanager, lambda alerts: len(alerts) == 1)
        await trio.sleep(1.5)  # past the first post's endsAt
        [later] = await alerts_when(alertmanager, lambda alerts: len(alerts) == 1)
        assert later["endsAt"] > first["endsAt"]
        assert at(later["startsAt"]) == at(first["startsAt"]) == opened

        alertmanager.stop()  # Alertmanager keeps no alerts on disk: a new one starts empty
        (tmp_path / "alertmanager" / "data").rename(tmp_path / "old-data")
        await trio.sleep(0.5)  # a re-post falls while it is down, and fails
        await trio.to_thread.run_sync(alertmanager.start)
        [back] = await alerts_when(alertmanager, lambda alerts: len(alerts) == 1, timeout=3)
    assert back["labels"] == first["labels"]
    assert at(back["startsAt"]) == opened
    assert counts.sent("am") == 1
    assert counts.failed("am").get("refresh", 0) >= 1  # the re-post while it was down


@in_trio
async def test_incidents_adopted_after_a_restart_are_posted_with_the_next_refresh(alertmanager) -> None:
    opened = now_ms() - 60_000
    options = AlertmanagerOptions(url=alertmanager.url, resend_interval=0.3, lease=1.0, **FAST | {"timeout": 0.2})
    output = AlertmanagerOutput("am", options)
    still_open = notify("trigger", opened_ms=opened, updated_ms=opened).incident
    long_gone = notify("trigger", key="other", severity="ok", resolved_ms=opened).incident
    output.adopt([still_open, long_gone])
    async with running(Counts(), output):
        [alert] = await alerts_when(alertmanager, lambda alerts: len(alerts) == 1, timeout=3)
    assert (alert["annotations"]["incident_key"], at(alert["startsAt"])) == (HEARTBEAT.key, opened)


@in_trio
async def test_a_retried_update_posts_the_same_alerts_again(receivers) -> None:
    """A stand-in that fails the update once: the retry still resolves the old severity's
    alert beside the new one (the plan is made once per notification)."""
    server = receivers(Reply(200), Reply(503), then=Reply(200))
    output = AlertmanagerOutput("am", AlertmanagerOptions(url=server.url, **FAST))
    counts = Counts()
    async with running(counts, output) as [runner]:
        runner.submit(notify("trigger", severity="warning"))
        runner.submit(notify("update", at_ms=T0 + 1000))
        await until(lambda: counts.sent("am") == 2)
    first, failed, retried = server.bodies()
    assert severities(first) == ["warning"]  # type: ignore[arg-type]
    for body in (failed, retried):
        old, new = body  # type: ignore[misc]
        assert (old["labels"]["severity"], at(old["endsAt"])) == ("warning", T0 + 1000)
        assert new["labels"]["severity"] == "critical"
        assert at(new["endsAt"]) > now_ms()
    assert {r.path for r in server.requests} == {"/api/v2/alerts"}
