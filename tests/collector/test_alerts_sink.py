"""The alerts sink end to end, through the real numbatd: a service's heartbeats (the
project's emitter, in a child process killed with SIGKILL) open one critical incident at
the ttl, seen at GET /incidents, in a webhook's and a PagerDuty receiver's exact JSON and
in a real Alertmanager's API, and resolved when the beats return; a remediation command
runs once after the second failing check; an output that hangs delays no other; a
restart keeps an open incident and does not notify it twice; silences through the API
and the CLI."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson

from ..waiting import wait_for
from .numbatd import free_port

TTL_MS = 600


def beating(port: int, app: str = "svc", host: str = "h1", interval: float = 0.1) -> subprocess.Popen[bytes]:
    """A service beating every ``interval`` with the project's emitter, in a child process."""
    code = (
        "import time\n"
        "from emitter import Emitter\n"
        f"e = Emitter('udp://127.0.0.1:{port}', app={app!r}, host={host!r})\n"
        "while True:\n"
        f"    e.metric('heartbeat', ttl={TTL_MS})\n"
        "    e.flush()\n"
        f"    time.sleep({interval})\n"
    )
    return subprocess.Popen([sys.executable, "-c", code])


def kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(10)


def api(port: int, method: str, path: str, body: object | None = None) -> tuple[int, object]:
    data = orjson.dumps(body) if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            raw = response.read()
            return response.status, orjson.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read() or b"null")


def incidents(port: int) -> list[dict]:
    status, body = api(port, "GET", "/incidents")
    assert status == 200
    assert isinstance(body, list)
    return body


def config(udp: int, api_port: int, outputs: str, rules: str | None = None, state_dir: Path | None = None) -> str:
    rules = (
        rules
        if rules is not None
        else """
[[sinks.rules]]
kind = "heartbeat"
name = "beats"
flap_hold = 0
"""
    )
    state = f'state_dir = "{state_dir}"\n' if state_dir else ""
    return f"""{state}
[[listeners]]
url = "udp://127.0.0.1:{udp}"
format = "numbat"

[[sinks]]
type = "alerts"
listen = "127.0.0.1:{api_port}"
save_interval = 0.1
max_tick_interval = 0.5
{rules}
{outputs}
"""


def webhook_bodies(receiver, action: str | None = None) -> list[dict]:
    return [b for b in receiver.bodies() if action is None or b.get("action") == action]


def test_a_killed_service_opens_one_critical_incident_at_its_ttl_and_beats_resolve_it(
    numbatd, receivers, alertmanager, tmp_path
) -> None:
    webhook, pagerduty = receivers(), receivers()
    udp, api_port = free_port(), free_port()
    outputs = f"""
[[sinks.outputs]]
type = "webhook"
url = "{webhook.url}/hook"
retry_base = 0.05
[[sinks.outputs]]
type = "pagerduty"
url = "{pagerduty.url}/v2/enqueue"
routing_key = "R0UT1NGKEY0123456789012345678901"
retry_base = 0.05
[[sinks.outputs]]
type = "alertmanager"
url = "{alertmanager.url}"
resend_interval = 1
lease = 10
timeout = 0.5
"""
    daemon = numbatd(config(udp, api_port, outputs, state_dir=tmp_path / "state"))
    service = beating(udp)
    try:
        assert wait_for(lambda: daemon.metric("numbat_sink_written_events_total", sink="alerts") >= 3, 10)
        assert incidents(api_port) == []
        kill(service)
        killed = time.time() * 1000
        assert wait_for(lambda: incidents(api_port), 5)
        opened_seen = time.time() * 1000
        [incident] = incidents(api_port)
        assert incident["key"] == "beats/svc/host=h1"
        assert incident["severity"] == "critical"
        assert incident["kind"] == "heartbeat"
        assert incident["labels"] == {"app": "svc", "host": "h1"}
        # at the ttl after the last beat: not before the kill's ttl - one interval, within ttl + a bit
        assert killed + TTL_MS - 200 <= incident["opened_ms"] <= killed + TTL_MS + 100
        assert opened_seen - killed < TTL_MS + 1500

        assert wait_for(lambda: webhook_bodies(webhook, "trigger"), 5)
        [trigger] = webhook_bodies(webhook)
        assert trigger == {
            "version": 1,
            "action": "trigger",
            "at_ms": incident["opened_ms"],
            "incident": {
                "key": "beats/svc/host=h1",
                "rule": "beats",
                "kind": "heartbeat",
                "severity": "critical",
                "summary": incident["summary"],
                "labels": {"app": "svc", "host": "h1"},
                "details": incident["details"],
                "value": incident["value"],
                "opened_ms": incident["opened_ms"],
                "updated_ms": incident["updated_ms"],
                "resolved_ms": None,
            },
        }
        assert webhook.requests[0].path == "/hook"
        assert wait_for(pagerduty.bodies, 5)
        [page] = pagerduty.bodies()
        assert page["routing_key"] == "R0UT1NGKEY0123456789012345678901"
        assert page["event_action"] == "trigger"
        assert page["payload"]["severity"] == "critical"
        assert page["payload"]["source"] == "h1"
        assert page["payload"]["custom_details"]["incident_key"] == "beats/svc/host=h1"

        assert wait_for(alertmanager.alerts, 5)
        [alert] = alertmanager.alerts()
        assert alert["labels"] == {"alertname": "beats", "app": "svc", "host": "h1", "severity": "critical"}
        assert alert["annotations"]["incident_key"] == "beats/svc/host=h1"

        time.sleep(0.5)
        assert len(webhook_bodies(webhook, "trigger")) == 1  # one incident, notified once
        assert daemon.metric("numbat_alert_incidents_open", rule="beats", severity="critical") == 1

        service = beating(udp)
        assert wait_for(lambda: not incidents(api_port), 5)
        assert wait_for(lambda: webhook_bodies(webhook, "resolve"), 5)
        [resolve] = webhook_bodies(webhook, "resolve")
        assert resolve["incident"]["key"] == "beats/svc/host=h1"
        assert resolve["incident"]["severity"] == "ok"
        assert wait_for(lambda: [b for b in pagerduty.bodies() if b["event_action"] == "resolve"], 5)
        assert wait_for(lambda: not alertmanager.alerts(), 5)
        assert daemon.metric("numbat_alert_notifications_total", action="trigger") == 1
        assert daemon.metric("numbat_alert_notifications_total", action="resolve") == 1
        assert daemon.metric("numbat_alert_incidents_open", rule="beats") == 0
    finally:
        kill(service)
        assert daemon.stop() == 0


def numbatd_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector", *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_a_restart_keeps_a_critical_incident_open_and_does_not_notify_it_again(numbatd, receivers, tmp_path) -> None:
    webhook = receivers()
    udp, api_port = free_port(), free_port()
    text = config(
        udp, api_port, f'[[sinks.outputs]]\ntype = "webhook"\nurl = "{webhook.url}"\n', state_dir=tmp_path / "state"
    )
    daemon = numbatd(text)
    service = beating(udp)
    other = beating(udp, app="other")
    try:
        assert wait_for(lambda: daemon.metric("numbat_sink_written_events_total", sink="alerts") >= 6, 10)
        kill(service)
        assert wait_for(lambda: webhook_bodies(webhook, "trigger"), 5)
        [before] = incidents(api_port)
        assert daemon.stop() == 0
        kill(other)  # silent while numbatd is down, and after: still watched, so missed after the restart
        daemon = numbatd(text)
        [after] = [i for i in incidents(api_port) if i["key"] == before["key"]]
        assert after == before
        assert wait_for(lambda: any(i["key"] == "beats/other/host=h1" for i in incidents(api_port)), 5)
        time.sleep(1.0)
        triggers = [b["incident"]["key"] for b in webhook_bodies(webhook, "trigger")]
        assert triggers == ["beats/svc/host=h1", "beats/other/host=h1"]  # svc's once, before the restart
        assert daemon.metric("numbat_alert_incidents_open", rule="beats", severity="critical") == 2
    finally:
        kill(service)
        kill(other)
        assert daemon.stop() == 0


def test_silences_through_the_api_and_the_cli_hold_back_an_incident_until_removed(numbatd, receivers, tmp_path) -> None:
    webhook = receivers()
    udp, api_port = free_port(), free_port()
    url = f"http://127.0.0.1:{api_port}"
    daemon = numbatd(config(udp, api_port, f'[[sinks.outputs]]\ntype = "webhook"\nurl = "{webhook.url}"\n'))
    service = beating(udp)
    try:
        status, by_api = api(
            api_port, "POST", "/silences", {"match": "beats/svc/*", "duration": 60, "comment": "deploy"}
        )
        assert status == 201
        assert isinstance(by_api, dict)
        assert by_api["match"] == "beats/svc/*"
        assert by_api["comment"] == "deploy"
        assert abs(by_api["ends_ms"] - (time.time() * 1000 + 60_000)) < 2_000
        added = numbatd_cli("silence", "--url", url, "add", "beats/nothing/*", "--duration", "30", "--comment", "x")
        assert added.returncode == 0, added.stderr
        by_cli = orjson.loads(added.stdout)
        listed = numbatd_cli("silence", "--url", url, "list")
        assert listed.returncode == 0, listed.stderr
        assert sorted(orjson.loads(line)["id"] for line in listed.stdout.splitlines()) == sorted(
            [by_api["id"], by_cli["id"]]
        )
        assert api(api_port, "GET", "/silences")[1] == [orjson.loads(line) for line in listed.stdout.splitlines()]
        assert api(api_port, "POST", "/silences", {"match": "x", "duration": -1})[0] == 400
        assert api(api_port, "DELETE", "/silences/nope")[0] == 404
        too_large = api(api_port, "POST", "/silences", {"match": "x", "comment": "c" * 70_000})
        assert too_large == (413, {"error": "request body too large"})  # JSON, as every answer of the API

        assert wait_for(lambda: daemon.metric("numbat_sink_written_events_total", sink="alerts") >= 3, 10)
        kill(service)
        assert wait_for(lambda: incidents(api_port), 5)
        [incident] = incidents(api_port)
        assert incident["silenced"] is True
        time.sleep(0.5)
        assert webhook.bodies() == []  # silenced: not sent
        assert daemon.metric("numbat_alert_silenced_notifications_total", action="trigger") == 1

        removed = numbatd_cli("silence", "--url", url, "remove", by_api["id"])
        assert removed.returncode == 0, removed.stderr
        assert wait_for(lambda: webhook_bodies(webhook, "trigger"), 5)  # announced once the silence ends
        assert api(api_port, "DELETE", f"/silences/{by_cli['id']}")[0] == 204
        assert api(api_port, "GET", "/silences") == (200, [])
        assert numbatd_cli("silence", "--url", url, "remove", by_cli["id"]).returncode == 1
    finally:
        kill(service)
        assert daemon.stop() == 0


def test_a_remediation_runs_once_after_the_second_failing_check_while_a_hung_output_delays_no_other(
    numbatd, receivers, hanging, tmp_path
) -> None:
    webhook = receivers()
    udp, api_port = free_port(), free_port()
    touched = tmp_path / "remediated"
    rules = f"""
[[sinks.rules]]
kind = "threshold"
name = "replication"
match = "db.replication_lag"
statistic = "last"
window = 1
evaluate_every = 0.2
critical_above = 10
for_evaluations = 2
remediate_after = 2
flap_hold = 0
remediation = ["sh", "-c", "date +%s%3N >> {touched}"]
"""
    outputs = f"""
[[sinks.outputs]]
type = "webhook"
name = "hung"
url = "{hanging.url}"
timeout = 30
[[sinks.outputs]]
type = "webhook"
url = "{webhook.url}"
[[sinks.outputs]]
type = "remediation"
timeout = 5
"""
    daemon = numbatd(config(udp, api_port, outputs, rules=rules))
    failing = b'{"name": "db.replication_lag", "value": 60, "host": "db1"}\n'
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(failing, ("127.0.0.1", udp))  # the first failing check: counted, nothing run
        assert wait_for(lambda: daemon.metric("numbat_sink_written_events_total", sink="alerts") >= 1, 5)
        time.sleep(0.3)
        assert not touched.exists()
        assert incidents(api_port) == []
        sock.sendto(failing, ("127.0.0.1", udp))  # the second in a row: the incident and the remedy
        assert wait_for(touched.exists, 5)
        for _ in range(5):  # still failing: no second run
            sock.sendto(failing, ("127.0.0.1", udp))
            time.sleep(0.1)
        time.sleep(0.5)
    assert len(touched.read_text().split()) == 1
    [incident] = incidents(api_port)
    assert incident["key"] == "replication/db.replication_lag/host=db1"
    assert incident["severity"] == "critical"
    assert wait_for(lambda: webhook_bodies(webhook, "trigger"), 5)  # while the hung output holds its request
    assert hanging.accepted >= 1
    assert daemon.metric("numbat_alert_output_sent_notifications_total", output="remediation") == 1
    assert daemon.metric("numbat_alert_notifications_total", action="remediate") == 1
    daemon.kill()


def test_a_reload_keeps_an_open_incident_and_applies_the_new_rules(numbatd, receivers, tmp_path) -> None:
    """SIGHUP with changed rules: the sink is replaced, its state goes through its SQLite
    file, so the open incident stays open and is not sent again; the new rule watches."""
    webhook = receivers()
    udp, api_port = free_port(), free_port()
    outputs = f'[[sinks.outputs]]\ntype = "webhook"\nurl = "{webhook.url}"\n'
    beats = '\n[[sinks.rules]]\nkind = "heartbeat"\nname = "beats"\nflap_hold = 0\n'
    daemon = numbatd(config(udp, api_port, outputs, rules=beats, state_dir=tmp_path / "state"))
    service = beating(udp)
    try:
        assert wait_for(lambda: daemon.metric("numbat_sink_written_events_total", sink="alerts") >= 3, 10)
        kill(service)
        assert wait_for(lambda: webhook_bodies(webhook, "trigger"), 5)
        [before] = incidents(api_port)
        statuses = '\n[[sinks.rules]]\nkind = "status"\nname = "checks"\nflap_hold = 0\n'
        daemon.write_config(config(udp, api_port, outputs, rules=beats + statuses, state_dir=tmp_path / "state"))
        daemon.signal(signal.SIGHUP)
        assert wait_for(lambda: daemon.metric("numbat_config_reloads_total", result="applied") == 1, 10)
        assert wait_for(lambda: before in incidents(api_port), 5)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            event = {"name": "db.replication", "host": "h1", "status": "critical", "value": 1}
            sender.sendto(orjson.dumps(event), ("127.0.0.1", udp))
        assert wait_for(lambda: len(webhook_bodies(webhook, "trigger")) == 2, 5)
        keys = [body["incident"]["key"] for body in webhook_bodies(webhook, "trigger")]
        assert keys[0] == before["key"]  # sent once, before the reload
        assert keys[1].startswith("checks/")
    finally:
        kill(service)
        assert daemon.stop() == 0
