"""The alert outputs against HTTP servers on 127.0.0.1: the exact JSON PagerDuty, Slack and
a webhook receive; retries (500 then 200, 429 with Retry-After), refusals, giving up; the
per-attempt timeout; a full queue; an output that hangs while the others deliver; https
with a private CA; and no secret of any URL, header or key in the log."""

from __future__ import annotations

import inspect
import logging
import socket
import time

import pytest
import trio

from collector.alerts.outputs import (
    OUTPUT_TYPES,
    AlertmanagerOptions,
    Dispatch,
    LogOptions,
    LogOutput,
    OutputOptions,
    OutputRunner,
    PagerDutyOptions,
    PagerDutyOutput,
    RemediationOptions,
    SlackOptions,
    SlackOutput,
    WebhookOptions,
    WebhookOutput,
)
from collector.config import ConfigError
from collector.config._checks import build

from .alert_outputs import HEARTBEAT, T0, T0_ISO, Counts, in_trio, log_text, notify, running, until
from .alert_receivers import Reply, make_certificate, server_tls

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
SLACK_PATH = "/services/T0001/B0002/XXXXsecretXXXXtoken"
FAST = {"retry_base": 0.02, "retry_cap": 0.2, "timeout": 5.0}


def pagerduty(url: str, name: str = "pd", **options: object) -> PagerDutyOutput:
    return PagerDutyOutput(name, PagerDutyOptions(url=f"{url}/v2/enqueue", routing_key=ROUTING_KEY, **FAST | options))


def slack(url: str, name: str = "slack", **options: object) -> SlackOutput:
    return SlackOutput(name, SlackOptions(url=f"{url}{SLACK_PATH}", **FAST | options))


def webhook(url: str, name: str = "hook", **options: object) -> WebhookOutput:
    return WebhookOutput(name, WebhookOptions(url=url, **FAST | options))


# -- the exact JSON each receives ---------------------------------------------------------


@in_trio
async def test_pagerduty_receives_a_trigger_and_its_resolve_with_one_dedup_key(receivers) -> None:
    server = receivers(then=Reply(202, b'{"status":"success","message":"Event processed"}'))
    counts = Counts()
    async with running(counts, pagerduty(server.url)) as [runner]:
        assert runner.submit(notify("trigger"))
        assert runner.submit(notify("resolve", severity="ok", resolved_ms=T0 + 60_000, at_ms=T0 + 60_000))
        await until(lambda: counts.sent("pd") == 2)
    assert [(r.method, r.path, r.headers["content-type"]) for r in server.requests] == [
        ("POST", "/v2/enqueue", "application/json")
    ] * 2
    key = "heartbeat/web.heartbeat/app=web/host=web-1"
    assert server.bodies() == [
        {
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "dedup_key": key,
            "payload": {
                "summary": "web-1 heartbeat missed for 45 s (ttl 30 s)",
                "source": "web-1",
                "severity": "critical",
                "timestamp": T0_ISO,
                "group": "heartbeat",
                "class": "heartbeat",
                "custom_details": {
                    "incident_key": key,
                    "rule": "heartbeat",
                    "kind": "heartbeat",
                    "severity": "critical",
                    "action": "trigger",
                    "opened": T0_ISO,
                    "value": 45.0,
                    "labels": {"app": "web", "host": "web-1"},
                    "details": {"description": "no beat since 22:12:35"},
                },
            },
            "client": "numbat",
        },
        {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": key},
    ]


@in_trio
async def test_pagerduty_severities_and_the_source_without_a_host_label(receivers) -> None:
    server = receivers(then=Reply(202))
    counts = Counts()
    async with running(counts, pagerduty(server.url, source="numbat-analyzer-1")) as [runner]:
        for severity in ("warning", "unknown", "critical"):
            runner.submit(notify("update", severity=severity, labels=(("app", "web"),)))
        await until(lambda: counts.sent("pd") == 3)
    payloads = [body["payload"] for body in server.bodies()]  # type: ignore[index]
    assert [(p["severity"], p["source"]) for p in payloads] == [
        ("warning", "numbat-analyzer-1"),
        ("error", "numbat-analyzer-1"),
        ("critical", "numbat-analyzer-1"),
    ]


@in_trio
async def test_slack_receives_an_attachment_coloured_by_severity(receivers) -> None:
    server = receivers()
    counts = Counts()
    output = slack(server.url, channel="#ops")
    incident_changes = {"details": (("description", "a <b> & c"),)}
    async with running(counts, output) as [runner]:
        runner.submit(notify("trigger", **incident_changes))
        runner.submit(notify("update", severity="warning", value=None, **incident_changes))
        runner.submit(notify("update", severity="unknown", **incident_changes))
        runner.submit(notify("resolve", severity="ok", resolved_ms=T0 + 5000, at_ms=T0 + 5000, **incident_changes))
        await until(lambda: counts.sent("slack") == 4)
    assert {r.path for r in server.requests} == {SLACK_PATH}
    first, warning, unknown, resolved = server.bodies()
    assert first == {
        "channel": "#ops",
        "attachments": [
            {
                "fallback": "[CRITICAL] web-1 heartbeat missed for 45 s (ttl 30 s)",
                "color": "danger",
                "title": "[CRITICAL] web-1 heartbeat missed for 45 s (ttl 30 s)",
                "text": "heartbeat (heartbeat): opened",
                "fields": [
                    {"title": "severity", "value": "critical", "short": True},
                    {"title": "app", "value": "web", "short": True},
                    {"title": "host", "value": "web-1", "short": True},
                    {"title": "value", "value": "45", "short": True},
                    {"title": "description", "value": "a &lt;b&gt; &amp; c", "short": False},
                ],
                "footer": "numbat · heartbeat/web.heartbeat/app=web/host=web-1",
                "ts": T0 // 1000,
            }
        ],
    }
    assert warning["attachments"][0]["color"] == "warning"  # type: ignore[index]
    assert [f["title"] for f in warning["attachments"][0]["fields"]] == ["severity", "app", "host", "description"]  # type: ignore[index]
    assert unknown["attachments"][0]["color"] == "#999999"  # type: ignore[index]
    attachment = resolved["attachments"][0]  # type: ignore[index]
    assert (attachment["color"], attachment["title"], attachment["text"]) == (
        "good",
        "[RESOLVED] web-1 heartbeat missed for 45 s (ttl 30 s)",
        "heartbeat (heartbeat): resolved",
    )
    assert attachment["fields"][0] == {"title": "severity", "value": "ok", "short": True}
    assert attachment["ts"] == (T0 + 5000) // 1000


@in_trio
async def test_the_webhook_receives_the_documented_shape(receivers) -> None:
    server = receivers()
    counts = Counts()
    async with running(counts, webhook(server.url + "/hooks/numbat?token=abc", headers={"X-Token": "t0k"})) as [r]:
        r.submit(notify("renotify", at_ms=T0 + 3_600_000, value=float("nan")))
        await until(lambda: counts.sent("hook") == 1)
    [request] = server.requests
    assert (request.path, request.headers["x-token"]) == ("/hooks/numbat?token=abc", "t0k")
    assert request.json() == {
        "version": 1,
        "action": "renotify",
        "at_ms": T0 + 3_600_000,
        "incident": {
            "key": "heartbeat/web.heartbeat/app=web/host=web-1",
            "rule": "heartbeat",
            "kind": "heartbeat",
            "severity": "critical",
            "summary": "web-1 heartbeat missed for 45 s (ttl 30 s)",
            "labels": {"app": "web", "host": "web-1"},
            "details": {"description": "no beat since 22:12:35"},
            "value": None,
            "opened_ms": T0,
            "updated_ms": T0,
            "resolved_ms": None,
        },
    }


@in_trio
async def test_remediate_goes_to_no_http_output(receivers) -> None:
    server = receivers()
    counts = Counts()
    async with running(counts, webhook(server.url)) as [runner]:
        assert not runner.submit(notify("remediate"))
        assert runner.submit(notify("trigger"))
        await until(lambda: counts.sent("hook") == 1)
    assert [body["action"] for body in server.bodies()] == ["trigger"]  # type: ignore[index]


# -- retries, refusals, giving up ---------------------------------------------------------


@in_trio
async def test_500_is_tried_again_until_200(receivers) -> None:
    server = receivers(Reply(500, b"oops"), Reply(502, b"bad gateway"), then=Reply(202))
    counts = Counts()
    async with running(counts, pagerduty(server.url)) as [runner]:
        runner.submit(notify("trigger"))
        await until(lambda: counts.sent("pd") == 1)
    assert len(server.requests) == 3
    assert len({request.body for request in server.requests}) == 1  # the same event each time
    assert (counts.retried("pd"), counts.failed("pd")) == (2, {})
    gaps = [b.at - a.at for a, b in zip(server.requests, server.requests[1:], strict=False)]
    assert gaps[0] >= 0.01  # 0.02 then 0.04 s, halved: the least jitter
    assert gaps[1] >= 0.02


@in_trio
async def test_429_waits_as_long_as_retry_after_says(receivers) -> None:
    server = receivers(Reply(429, b"", (("Retry-After", "1"),)), then=Reply(202))
    counts = Counts()
    async with running(counts, pagerduty(server.url, retry_cap=5.0)) as [runner]:
        runner.submit(notify("trigger"))
        await until(lambda: counts.sent("pd") == 1)
    first, second = server.requests
    assert 0.95 <= second.at - first.at < 2.5  # the backoff alone would have waited 0.01 s


@in_trio
async def test_a_retry_after_longer_than_retry_cap_waits_retry_cap(receivers) -> None:
    server = receivers(Reply(429, b"", (("Retry-After", "3600"),)), then=Reply(200))
    counts = Counts()
    async with running(counts, slack(server.url, retry_cap=0.3)) as [runner]:
        runner.submit(notify("trigger"))
        await until(lambda: counts.sent("slack") == 1, timeout=3)
    first, second = server.requests
    assert 0.25 <= second.at - first.at < 2


@in_trio
async def test_a_4xx_is_refused_at_once_and_logged_without_secrets(receivers, caplog) -> None:
    pd_echo = f'{{"errors": ["invalid routing_key {ROUTING_KEY}"]}}'.encode()
    slack_echo = f"no_service at {SLACK_PATH}".encode()
    pd_server, slack_server = receivers(then=Reply(400, pd_echo)), receivers(then=Reply(404, slack_echo))
    counts = Counts()
    caplog.set_level(logging.INFO, logger="numbatd")
    async with running(counts, pagerduty(pd_server.url), slack(slack_server.url)) as runners:
        for runner in runners:
            runner.submit(notify("trigger"))
        await until(lambda: counts.failed("pd") == counts.failed("slack") == {"rejected": 1})
    assert len(pd_server.requests) == len(slack_server.requests) == 1
    assert counts.retried("pd") == counts.sent("pd") == 0
    refusals = [r for r in caplog.records if r.getMessage() == "alert output refused a notification"]
    assert sorted(r.output for r in refusals) == ["pd", "slack"]  # type: ignore[attr-defined]
    assert {r.where for r in refusals} == {pd_server.url, slack_server.url}  # type: ignore[attr-defined]
    text = log_text(caplog.records)
    assert 'answered 400: {\\"errors\\": [\\"invalid routing_key ***\\"]}' in text
    assert "answered 404: no_service at ***" in text
    for secret in (ROUTING_KEY, SLACK_PATH, "XXXXsecretXXXXtoken"):
        assert secret not in text


@in_trio
async def test_an_output_gives_up_after_max_attempts(receivers, caplog) -> None:
    server = receivers(then=Reply(503, b"maintenance"))
    counts = Counts()
    async with running(counts, webhook(server.url, max_attempts=3)) as [runner]:
        runner.submit(notify("trigger"))
        runner.submit(notify("resolve"))
        await until(lambda: counts.failed("hook") == {"gave up": 2})
    assert len(server.requests) == 6
    assert counts.retried("hook") == 4
    assert "alert output gave up on a notification" in caplog.text
    assert "answered 503: maintenance" in log_text(caplog.records)


@in_trio
async def test_nobody_listening_is_tried_again_and_counted(unused_tcp_port, caplog) -> None:
    counts = Counts()
    url = f"http://user:pa55word@127.0.0.1:{unused_tcp_port}/secret/path"
    async with running(counts, webhook(url, max_attempts=2)) as [runner]:
        runner.submit(notify("trigger"))
        await until(lambda: counts.failed("hook") == {"gave up": 1})
    text = log_text(caplog.records)
    assert f"connection refused by http://127.0.0.1:{unused_tcp_port}" in text
    for secret in ("pa55word", "user:", "/secret/path"):
        assert secret not in text


@in_trio
async def test_an_attempt_is_cut_off_after_timeout_and_tried_again(hanging) -> None:
    counts = Counts()
    async with running(counts, webhook(hanging.url, timeout=0.3, max_attempts=2)) as [runner]:
        started = trio.current_time()
        runner.submit(notify("trigger"))
        await until(lambda: counts.failed("hook") == {"gave up": 1}, timeout=3)
        took = trio.current_time() - started
    assert hanging.accepted == 2
    assert 0.6 <= took < 1.5  # two attempts of 0.3 s and a 0.01 s pause


# -- isolation: the queue, a hung output --------------------------------------------------


def test_submit_never_waits_and_a_full_queue_drops_what_does_not_fit(hanging) -> None:
    counts = Counts()
    output = webhook(hanging.url, queue_size=3)
    runner = OutputRunner(output, counts.stats(output))
    assert not inspect.iscoroutinefunction(runner.submit)
    accepted = [runner.submit(notify("trigger", key=f"k{i}")) for i in range(5)]  # not running: nothing taken
    assert accepted == [True, True, True, False, False]
    assert (runner.queued, counts.dropped("hook")) == (3, {"overflow": 2})
    assert (
        counts.metrics.registry.get_sample_value(
            "numbat_alert_output_queue_notifications", {"output": "hook", "type": "webhook"}
        )
        == 3
    )


@in_trio
async def test_a_hung_output_delays_no_other(receivers, hanging, caplog) -> None:
    """PagerDuty accepts and never answers (an attempt may take 30 s); Slack, the webhook
    and the log deliver every notification at once, and submitting never waits."""
    slack_server, hook_server = receivers(), receivers()
    counts = Counts()
    outputs = [
        pagerduty(hanging.url, timeout=30.0),
        slack(slack_server.url),
        webhook(hook_server.url),
        LogOutput("log", LogOptions()),
    ]
    caplog.set_level(logging.INFO, logger="numbatd")
    async with running(counts, *outputs) as runners:
        dispatch = Dispatch(runners)
        started = time.monotonic()
        queued = [dispatch.submit(notify("trigger", key=f"k{i}")) for i in range(20)]
        submitting = time.monotonic() - started
        await until(lambda: counts.sent("slack") == counts.sent("hook") == counts.sent("log") == 20, timeout=5)
        delivered = time.monotonic() - started
        assert hanging.accepted == 1
        assert counts.sent("pd") == 0
        assert runners[0].queued == 19
    assert queued == [4] * 20
    assert submitting < 0.05
    assert delivered < 3
    assert len(slack_server.requests) == len(hook_server.requests) == 20
    assert counts.dropped("pd") == {"stopped": 20}  # cancelled with one in hand and 19 queued: counted


@in_trio
async def test_close_sends_what_is_queued_then_run_returns(receivers) -> None:
    server = receivers()
    counts = Counts()
    output = webhook(server.url)
    runner = OutputRunner(output, counts.stats(output))
    for i in range(5):
        runner.submit(notify("trigger", key=f"k{i}"))
    runner.close()
    with trio.fail_after(5):
        await runner.run()
    assert [body["incident"]["key"] for body in server.bodies()] == [f"k{i}" for i in range(5)]  # type: ignore[index]
    assert not runner.submit(notify("trigger"))
    assert counts.dropped("hook") == {"stopped": 1}


# -- https, the log -----------------------------------------------------------------------


@in_trio
async def test_https_with_a_private_ca(receivers, tmp_path, caplog) -> None:
    ca, cert, key = make_certificate(tmp_path)
    server = receivers(then=Reply(202), tls=server_tls(cert, key))
    counts = Counts()
    trusted = pagerduty(server.url, name="trusted", ca_file=str(ca))
    untrusted = pagerduty(server.url, name="untrusted", max_attempts=1)  # the system's CAs know nothing of it
    async with running(counts, trusted, untrusted) as runners:
        for runner in runners:
            runner.submit(notify("trigger"))
        await until(lambda: counts.sent("trusted") == 1 and counts.failed("untrusted") == {"gave up": 1})
    assert server.url.startswith("https://")
    assert [body["event_action"] for body in server.bodies()] == ["trigger"]  # type: ignore[index]
    assert f"TLS with {server.url} failed: CERTIFICATE_VERIFY_FAILED" in log_text(caplog.records)


@in_trio
async def test_the_log_output_writes_a_line_per_notification(caplog) -> None:
    counts = Counts()
    caplog.set_level(logging.INFO, logger="numbatd")
    async with running(counts, LogOutput("log", LogOptions())) as [runner]:
        runner.submit(notify("trigger"))
        runner.submit(notify("update", severity="warning"))
        runner.submit(notify("resolve", severity="ok", resolved_ms=T0 + 1))
        await until(lambda: counts.sent("log") == 3)
    lines = [r for r in caplog.records if r.getMessage().startswith("incident ")]
    assert [(r.levelno, r.action, r.severity) for r in lines] == [  # type: ignore[attr-defined]
        (logging.ERROR, "trigger", "critical"),
        (logging.WARNING, "update", "warning"),
        (logging.INFO, "resolve", "ok"),
    ]
    assert lines[0].getMessage() == f"incident trigger: {HEARTBEAT.summary}"
    assert lines[0].labels == {"app": "web", "host": "web-1"}  # type: ignore[attr-defined]


@in_trio
async def test_text_json_cannot_hold_is_refused_not_retried(receivers) -> None:
    server = receivers()
    counts = Counts()
    async with running(counts, webhook(server.url)) as [runner]:
        runner.submit(notify("trigger", summary="half a pair: \ud800"))
        runner.submit(notify("trigger"))
        await until(lambda: counts.sent("hook") == 1)
    assert counts.failed("hook") == {"unencodable": 1}
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("output", "table", "problem"),
    [
        (PagerDutyOptions, {}, "alerts.outputs[0].routing_key: required"),
        (
            PagerDutyOptions,
            {"routing_key": "k", "url": "ftp://u:s3cret@x/p"},
            "url: must be an http:// or https:// URL",
        ),
        (SlackOptions, {}, "url: required"),
        (SlackOptions, {"url": "https://hooks.slack.com/services/a b"}, "url: has spaces or control characters"),
        (WebhookOptions, {"url": "http://x", "headers": {"X-Key": "a\r\nb"}}, "headers.X-Key: must hold no line break"),
        (WebhookOptions, {"url": "http://x", "headers": {"X Key": "v"}}, "headers.X Key: is not a header name"),
        (WebhookOptions, {"url": "http://x", "queue_size": 0}, "queue_size: must be in 1..1000000"),
        (WebhookOptions, {"url": "http://x", "retry_cap": 0.1}, "retry_cap: must be at least retry_base"),
        (AlertmanagerOptions, {"lease": 60.0}, "lease: must be at least twice resend_interval"),
        (AlertmanagerOptions, {"resend_interval": 5.0, "lease": 20.0}, "timeout: must be shorter than resend_interval"),
        (RemediationOptions, {"max_concurrent": 0}, "max_concurrent: must be positive"),
        (RemediationOptions, {"max_attempts": 2}, "max_attempts: must be 1: a command is never run twice"),
        (RemediationOptions, {"output_bytes": -1}, "output_bytes: must be in 0..1048576"),
    ],
)
def test_options_are_checked_and_name_the_key(output, table, problem) -> None:
    with pytest.raises(ConfigError) as raised:
        build(output, table, "alerts.outputs[0]")
    assert problem in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_every_output_type_is_registered_with_its_options() -> None:
    assert sorted(OUTPUT_TYPES) == ["alertmanager", "log", "pagerduty", "remediation", "slack", "webhook"]
    for kind, output in OUTPUT_TYPES.items():
        assert output.kind == kind
        assert issubclass(output.Options, OutputOptions)


@pytest.fixture
def unused_tcp_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound and closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
