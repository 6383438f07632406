"""Property tests of the outputs' pure parts: any incident becomes valid JSON of each
output's documented shape; the time format; Retry-After; and no secret of a URL, a header
or a routing key survives redaction, whatever the secret is."""

from __future__ import annotations

import datetime
import email.utils
import logging
import re
import string

import orjson
import pytest
import trio
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from collector.alerts import Incident, Notification
from collector.alerts.outputs import (
    AlertmanagerOptions,
    AlertmanagerOutput,
    OutputRunner,
    PagerDutyOptions,
    PagerDutyOutput,
    Rejected,
    Retryable,
    SlackOptions,
    SlackOutput,
    WebhookOptions,
    WebhookOutput,
)
from collector.alerts.outputs._alertmanager import alert_for, ending, label_name
from collector.alerts.outputs._base import iso_ms, retry_after_seconds
from collector.alerts.outputs._http import Endpoint
from collector.alerts.outputs._log import log_fields
from collector.alerts.outputs._pagerduty import DEDUP_KEY_CHARS, dedup_key, pagerduty_event
from collector.alerts.outputs._remediation import command_environment
from collector.alerts.outputs._slack import MAX_FIELDS, slack_message
from collector.alerts.outputs._webhook import webhook_document

from .alert_outputs import log_text

#: Text as decoded JSON events carry it: any Unicode but lone surrogates.
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
times = st.integers(-(2**53), 2**53)
pairs = st.dictionaries(text, text, max_size=6).map(lambda d: tuple(sorted(d.items())))
severities = st.sampled_from(["ok", "warning", "critical", "unknown"])
incidents = st.builds(
    Incident,
    key=text,
    rule=text,
    kind=st.sampled_from(["heartbeat", "status", "threshold", "absent", "ratio"]),
    severity=severities,
    summary=st.text(st.characters(exclude_categories=("Cs",)), max_size=2000),
    labels=pairs,
    opened_ms=times,
    updated_ms=times,
    value=st.none() | st.floats(),
    resolved_ms=st.none() | times,
    details=pairs,
)
notifications = st.builds(
    Notification, action=st.sampled_from(["trigger", "update", "resolve", "renotify"]), incident=incidents, at_ms=times
)
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def round_trip(document: object) -> object:
    """The document as the other end reads it (orjson refuses what is not JSON)."""
    return orjson.loads(orjson.dumps(document))


@given(notifications, text)
def test_pagerduty_events_have_the_events_api_shape(notification: Notification, routing_key: str) -> None:
    event = round_trip(pagerduty_event(notification, routing_key, "numbat-1"))
    assert isinstance(event, dict)
    incident = notification.incident
    resolve = notification.action == "resolve"
    assert event["event_action"] == ("resolve" if resolve else "trigger")
    assert (event["routing_key"], event["dedup_key"]) == (routing_key, dedup_key(incident.key))
    if resolve:
        assert set(event) == {"routing_key", "event_action", "dedup_key"}
        return
    payload = event["payload"]
    assert 0 < len(payload["summary"]) <= 1024
    assert payload["severity"] in ("critical", "error", "warning", "info")
    assert payload["source"] == (dict(incident.labels).get("host") or "numbat-1")
    assert ISO.match(payload["timestamp"])
    details = payload["custom_details"]
    assert (details["labels"], details["details"]) == (dict(incident.labels), dict(incident.details))
    assert details["incident_key"] == incident.key


keys = st.text(st.characters(exclude_categories=("Cs",)), max_size=400)


@given(keys, keys)
def test_dedup_keys_fit_pagerduty_and_stay_distinct(a: str, b: str) -> None:
    assert len(dedup_key(a)) <= DEDUP_KEY_CHARS
    assert dedup_key(a) == dedup_key(a)
    if len(a) <= DEDUP_KEY_CHARS:
        assert dedup_key(a) == a
    if a != b:
        assert dedup_key(a) != dedup_key(b)


def test_a_long_key_keeps_its_start_and_gets_a_digest() -> None:
    long = "threshold/" + "x" * 300
    assert len(dedup_key(long)) == 255
    assert dedup_key(long).startswith("threshold/xxx")
    assert dedup_key(long) != dedup_key(long + "y")


@given(notifications)
def test_slack_messages_are_one_escaped_attachment(notification: Notification) -> None:
    message = round_trip(slack_message(notification, SlackOptions(url="https://hooks.slack.com/x")))
    [attachment] = message["attachments"]  # type: ignore[index]
    expected_colour = {"critical": "danger", "warning": "warning", "unknown": "#999999", "ok": "good"}
    shown = "ok" if notification.action == "resolve" else notification.incident.severity
    assert attachment["color"] == expected_colour[shown]
    assert len(attachment["fields"]) <= MAX_FIELDS
    for text_field in [attachment["title"], attachment["text"], *(f["value"] for f in attachment["fields"])]:
        assert "<" not in text_field
        assert ">" not in text_field
        assert re.sub(r"&(amp|lt|gt);", "", text_field).count("&") == 0
    assert attachment["ts"] == notification.at_ms // 1000


@given(notifications)
def test_webhook_documents_carry_the_incident_whole(notification: Notification) -> None:
    document = round_trip(webhook_document(notification))
    incident = notification.incident
    assert document == {
        "version": 1,
        "action": notification.action,
        "at_ms": notification.at_ms,
        "incident": {
            "key": incident.key,
            "rule": incident.rule,
            "kind": incident.kind,
            "severity": incident.severity,
            "summary": incident.summary,
            "labels": dict(incident.labels),
            "details": dict(incident.details),
            "value": incident.value if incident.value is not None and abs(incident.value) < float("inf") else None,
            "opened_ms": incident.opened_ms,
            "updated_ms": incident.updated_ms,
            "resolved_ms": incident.resolved_ms,
        },
    }


LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@given(incidents, times)
def test_alertmanager_alerts_have_valid_labels_and_times(incident: Incident, ends_ms: int) -> None:
    alert = round_trip(ending(alert_for(incident), ends_ms))
    assert isinstance(alert, dict)
    labels, annotations = alert["labels"], alert["annotations"]
    assert all(LABEL_NAME.match(name) and value for name, value in labels.items())
    assert all(LABEL_NAME.match(name) and value for name, value in annotations.items())
    assert labels["alertname"] == (incident.rule or "numbat")
    assert labels["severity"] == incident.severity
    assert ISO.match(alert["startsAt"])
    assert ISO.match(alert["endsAt"])
    assert alert["endsAt"] >= alert["startsAt"]


@given(text)
def test_label_names_are_made_valid(name: str) -> None:
    made = label_name(name)
    assert LABEL_NAME.match(made)
    if LABEL_NAME.match(name):
        assert made == name


@given(notifications)
def test_the_remediation_environment_holds_any_incident(notification: Notification) -> None:
    env = command_environment(notification, {})
    assert all("\0" not in value for value in env.values())
    assert orjson.loads(env["NUMBAT_INCIDENT"])["key"] == notification.incident.key  # JSON escapes NUL
    assert env["NUMBAT_INCIDENT_KEY"] == notification.incident.key.replace("\0", "")


@given(notifications)
def test_log_fields_are_json(notification: Notification) -> None:
    round_trip(log_fields(notification))


@given(st.integers(-62135596800000, 253402300799999))
def test_iso_ms_is_rfc3339_of_the_same_instant(ms: int) -> None:
    shown = iso_ms(ms)
    assert ISO.match(shown)
    parsed = datetime.datetime.fromisoformat(shown.replace("Z", "+00:00"))
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    assert (parsed - epoch) // datetime.timedelta(milliseconds=1) == ms


@given(st.integers(0, 10**12))
def test_retry_after_in_seconds(seconds: int) -> None:
    assert retry_after_seconds(str(seconds)) == min(seconds, 10**9)


@given(st.integers(-86400, 86400 * 30))
def test_retry_after_as_an_http_date(offset: int) -> None:
    now = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=datetime.UTC)
    date = email.utils.format_datetime(now + datetime.timedelta(seconds=offset), usegmt=True)
    assert retry_after_seconds(date, now) == max(0, offset)


@given(st.text(max_size=40))
def test_retry_after_never_raises(value: str) -> None:
    delay = retry_after_seconds(value)
    assert delay is None or delay >= 0


# -- secrets ------------------------------------------------------------------------------

#: Secrets as they appear in URLs, headers and keys (no "*", which redaction writes).
secret_text = st.text(string.ascii_letters + string.digits + "-_.~", min_size=6, max_size=40)


@given(secret_text, secret_text, secret_text, secret_text, secret_text)
def test_no_secret_of_a_url_survives_redaction(user: str, password: str, path: str, query: str, header: str) -> None:
    assume(len({user, password, path, query, header}) == 5)
    url = f"https://{user}:{password}@hooks.example.com:8443/{path}?token={query}"
    output = WebhookOutput("hook", WebhookOptions(url=url, headers={"Authorization": f"Bearer {header}"}))
    assert output.where == "https://hooks.example.com:8443"
    message = f"{url} answered 403: bad token {query} for {user}/{password} at /{path}; Bearer {header}"
    redacted = output.redact(message)
    for secret in (user, password, path, query, header):
        assert secret not in redacted


@given(secret_text, secret_text)
def test_no_routing_key_nor_webhook_token_survives_redaction(routing_key: str, token: str) -> None:
    pagerduty = PagerDutyOutput("pd", PagerDutyOptions(routing_key=routing_key))
    slack = SlackOutput("slack", SlackOptions(url=f"https://hooks.slack.com/services/{token}"))
    assert routing_key not in pagerduty.redact(f'{{"errors": ["invalid routing_key {routing_key}"]}}')
    assert token not in slack.redact(f"no_service for /services/{token}")
    assert (pagerduty.where, slack.where) == ("https://events.pagerduty.com", "https://hooks.slack.com")


def test_an_endpoint_keeps_its_parts_apart() -> None:
    endpoint = Endpoint.parse("http://u%40x:p%3Aw@[::1]:9093/a/b?c=d")
    assert (endpoint.host, endpoint.port, endpoint.authority) == ("::1", 9093, "[::1]:9093")
    assert (endpoint.target, endpoint.origin) == ("/a/b?c=d", "http://[::1]:9093")
    assert endpoint.authorization == "Basic dUB4OnA6dw=="  # u@x:p:w
    for bad in ("ftp://x/", "http:///path", "http://x:99999/", "hooks.slack.com/services/x"):
        with pytest.raises(ValueError, match=r"^(must be an http|has no host|has a bad port)") as raised:
            Endpoint.parse(bad)
        assert "services" not in str(raised.value)


class Echoing(WebhookOutput):
    """A webhook whose server echoes the request's secrets: first as a 503, then as a 400."""

    async def send(self, notification: Notification) -> None:
        said = f"{self.options.url} with {self.options.headers} refused"
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == 1:
            raise Retryable(said)
        raise Rejected(said)


def runner_log(user: str, password: str, path: str, header: str) -> tuple[list[str], str]:
    """The messages and the text that the runner logs for an output that refuses with
    its secrets in the error."""
    url = f"https://{user}:{password}@hooks.example.com/{path}"
    output = Echoing("hook", WebhookOptions(url=url, headers={"X-Key": header}, retry_base=0.001, retry_cap=0.001))
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    async def deliver() -> None:
        runner = OutputRunner(output)
        runner.submit(Notification("trigger", Incident("k", "r", "status", "critical", "s", (), 0, 0), 0))
        runner.close()
        await runner.run()

    logger = logging.getLogger("numbatd")
    logger.addHandler(keep := Keep())
    try:
        trio.run(deliver)
    finally:
        logger.removeHandler(keep)
    return [r.getMessage() for r in records], log_text(records)


@settings(max_examples=30, deadline=None)
@given(secret_text, secret_text, secret_text, secret_text)
@example(user="000000", password="000001", path="incide", header="0WY0Pm")
def test_the_runner_logs_no_secret_of_its_output(user: str, password: str, path: str, header: str) -> None:
    """No secret is in the log, beyond where the log's own words hold it anyway (a path
    ``incide`` is in "incident": Hypothesis draws from the code's strings): as often as
    in the log of the same refusal with other secrets."""
    assume(len({user, password, path, header}) == 4)
    messages, logged = runner_log(user, password, path, header)
    assert messages == ["alert output will try again", "alert output refused a notification"]
    assert "https://hooks.example.com" in logged
    _, other = runner_log("Qz7user", "Qz7password", "Qz7path", "Qz7header")
    for secret in (user, password, path, header):
        assert logged.count(secret) == other.count(secret), secret


def test_alertmanager_urls_get_the_alerts_path() -> None:
    for url in ("http://am:9093", "http://am:9093/", "http://am:9093/api/v2/alerts"):
        assert AlertmanagerOutput("am", AlertmanagerOptions(url=url)).endpoint.target == "/api/v2/alerts"
    assert AlertmanagerOutput("am", AlertmanagerOptions(url="http://proxy/am/")).endpoint.target == "/am/api/v2/alerts"
