"""PagerDuty's Events API v2: an incident is one PagerDuty alert, keyed by its dedup_key.

trigger, update and renotify send ``event_action: trigger`` with the same dedup_key
(PagerDuty adds it to the open alert's log, or opens a new alert if someone resolved the
old one by hand while the problem lasts); resolve sends ``resolve``. PagerDuty's limits are
kept: dedup_key at most 255 characters (a longer key is cut and given a hash of the whole,
so it stays unique and stable), summary at most 1024. Severity: critical and warning as
they are, unknown as ``error`` (the check could not tell: worse than a warning), ok as
``info``. 202 is success; 429 and 5xx are tried again, any other answer is refused.
"""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass

from ...config import require
from .._model import Notification, Severity
from ._base import HttpOptions, HttpOutput, finite, iso_ms

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
DEDUP_KEY_CHARS = 255
SUMMARY_CHARS = 1024
SEVERITIES: dict[Severity, str] = {"critical": "critical", "warning": "warning", "unknown": "error", "ok": "info"}


@dataclass(frozen=True)
class PagerDutyOptions(HttpOptions):
    url: str = EVENTS_URL
    routing_key: str = ""  #: the service integration's key (32 characters): a secret
    #: payload.source when the incident has no ``host`` label; "" = this machine's name
    source: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(bool(self.routing_key), "routing_key", "required")


def dedup_key(key: str) -> str:
    """The incident's key, within PagerDuty's 255 characters."""
    if len(key) <= DEDUP_KEY_CHARS:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{key[: DEDUP_KEY_CHARS - 17]}~{digest}"


def pagerduty_event(notification: Notification, routing_key: str, source: str) -> dict[str, object]:
    """The Events API v2 body for ``notification``."""
    incident = notification.incident
    event: dict[str, object] = {
        "routing_key": routing_key,
        "event_action": "resolve" if notification.action == "resolve" else "trigger",
        "dedup_key": dedup_key(incident.key),
    }
    if notification.action == "resolve":
        return event
    labels = dict(incident.labels)
    summary = incident.summary.strip() or incident.key or incident.rule or "numbat incident"
    event["payload"] = {
        "summary": summary[:SUMMARY_CHARS],
        "source": labels.get("host") or source,
        "severity": SEVERITIES.get(incident.severity, "error"),
        "timestamp": iso_ms(incident.updated_ms),
        "group": incident.rule,
        "class": incident.kind,
        "custom_details": {
            "incident_key": incident.key,
            "rule": incident.rule,
            "kind": incident.kind,
            "severity": incident.severity,
            "action": notification.action,
            "opened": iso_ms(incident.opened_ms),
            "value": finite(incident.value),
            "labels": labels,
            "details": dict(incident.details),
        },
    }
    event["client"] = "numbat"
    return event


class PagerDutyOutput(HttpOutput[PagerDutyOptions]):
    kind = "pagerduty"
    Options = PagerDutyOptions

    def __init__(self, name: str, options: PagerDutyOptions) -> None:
        super().__init__(name, options)
        self.source = options.source or socket.gethostname()

    def secrets(self) -> tuple[str, ...]:
        return (self.options.routing_key,)

    def encode(self, notification: Notification) -> object:
        return pagerduty_event(notification, self.options.routing_key, self.source)
