"""The alerts sink end to end, through the real numbatd: a service's heartbeats (the
project's emitter, in a child process killed with SIGKILL) open one critical incident at
the ttl, seen at GET /incidents, in a webhook's and a PagerDuty receiver's exact JSON and
in a real Alertmanager's API, and resolved when the beats return; a remediation command
runs once after the second failing check; an output that hangs delays no other; a
restart keeps an open incident and does not notify it twice; silences through the API
and the CLI."""

from __future__ import annotations

import signal
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
