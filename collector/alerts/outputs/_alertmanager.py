"""Prometheus Alertmanager's v2 API: an open incident is a firing alert, kept alive by re-posts.

Alertmanager forgets an alert that is not sent again: each alert carries ``endsAt``, and
when that passes without a new post the alert resolves by itself (an alert posted without
``endsAt`` gets ``resolve_timeout``, 5 min by default, from Alertmanager's config). So,
as Prometheus does (``endsAt`` = now + 4 x its resend delay), every post sets ``endsAt``
to now + ``lease`` and every open alert is posted again each ``resend_interval``: an
Alertmanager restarted (it keeps no alerts on disk) has them back within one interval,
and if numbatd stops for good its alerts resolve ``lease`` later instead of firing
forever. A resolve posts the alert with ``endsAt`` = the resolution time.

Labels identify an alert: ``alertname`` = the rule, the incident's labels (names made
valid: ``[a-zA-Z_][a-zA-Z0-9_]*``, empty values left out), and ``severity``; ``alertname``
and ``severity`` win over an incident label of the same name. When an update changes the
severity, the label set changes: the old alert is resolved in the same post as the new one
is opened. Annotations: ``summary``, ``incident_key``, ``kind``, ``value`` and the
incident's details. The alerts this output holds open are its own memory; the sink hands
it the incidents still open after a restart (:meth:`AlertmanagerOutput.adopt`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from ...config import require
from .._model import Incident, Notification, Severity
from ._base import HttpOptions, HttpOutput, iso_ms
from ._http import Endpoint

ALERTS_PATH = "/api/v2/alerts"
#: Alerts per re-post request, so that a large open set makes bounded requests.
ALERTS_PER_POST = 500
_INVALID = re.compile(r"[^a-zA-Z0-9_]")
_OPEN_SEVERITIES: tuple[Severity, ...] = ("warning", "critical", "unknown")


@dataclass(frozen=True)
class AlertmanagerOptions(HttpOptions):
    url: str = "http://127.0.0.1:9093"  #: Alertmanager's base URL (/api/v2/alerts is added)
    resend_interval: float = 60.0  #: seconds between re-posts of every open alert
    lease: float = 240.0  #: endsAt = now + lease: how long an alert outlives its last post
    generator_url: str = ""  #: the alerts' generatorURL (a link back), if any

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.resend_interval > 0, "resend_interval", "must be positive")
        require(self.lease >= 2 * self.resend_interval, "lease", "must be at least twice resend_interval")
        require(self.timeout < self.resend_interval, "timeout", "must be shorter than resend_interval")


def label_name(name: str) -> str:
    """``name`` as a valid Alertmanager label name."""
    name = _INVALID.sub("_", name)
    return name if name and not name[0].isdigit() else f"_{name}"


def alert_for(incident: Incident, severity: Severity | None = None, generator_url: str = "") -> dict[str, object]:
    """The alert (without endsAt) that stands for ``incident`` while it is open."""
    labels = {label_name(name): value for name, value in incident.labels if value}
    labels |= {"alertname": incident.rule or "numbat", "severity": severity or incident.severity}
    annotations = {label_name(name): text for name, text in incident.details if text}
    annotations |= {"summary": incident.summary, "incident_key": incident.key, "kind": incident.kind}
    if incident.value is not None:
        annotations["value"] = repr(incident.value)
    alert: dict[str, object] = {
        "labels": labels,
        "annotations": {name: text for name, text in annotations.items() if text},
        "startsAt": iso_ms(incident.opened_ms),
    }
    if generator_url:
        alert["generatorURL"] = generator_url
    return alert


def ending(alert: dict[str, object], ends_ms: int) -> dict[str, object]:
    """``alert`` with endsAt; never before its startsAt (Alertmanager refuses that)."""
    starts = str(alert["startsAt"])
    ends = iso_ms(ends_ms)
    return {**alert, "endsAt": max(ends, starts)}  # same format, so strings compare as times


def alerts_url(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if not path.endswith(ALERTS_PATH):
        path += ALERTS_PATH
    return urlunsplit(parts._replace(path=path))


class AlertmanagerOutput(HttpOutput[AlertmanagerOptions]):
    kind = "alertmanager"
    Options = AlertmanagerOptions

    def __init__(self, name: str, options: AlertmanagerOptions, clock: Callable[[], float] = time.time) -> None:
        super().__init__(name, options)
        self.endpoint = Endpoint.parse(alerts_url(options.url))
        self.refresh_interval = options.resend_interval
        self._clock = clock
        #: incident key -> the alert posted for it (without endsAt), while it is open
        self.open: dict[str, dict[str, object]] = {}
        self._planned: tuple[Notification, list[tuple[dict[str, object], int | None]]] | None = None

    def adopt(self, incidents: Iterable[Incident]) -> None:
        """Incidents open before a restart: re-posted with the next refresh."""
        for incident in incidents:
            if incident.resolved_ms is None and incident.severity != "ok":
                self.open[incident.key] = alert_for(incident, generator_url=self.options.generator_url)

    def _lease_end(self) -> int:
        return int((self._clock() + self.options.lease) * 1000)

    def plan(self, notification: Notification) -> list[tuple[dict[str, object], int | None]]:
        """The alerts to post for ``notification``, each with its endsAt (None: the lease,
        reckoned when posted), and the open set updated. Once per notification: its
        retries post the same plan."""
        incident = notification.incident
        generator = self.options.generator_url
        if notification.action == "resolve":
            ends = incident.resolved_ms if incident.resolved_ms is not None else notification.at_ms
            old = self.open.pop(incident.key, None)
            if old is not None:
                return [(old, ends)]
            # not known here (posted before a restart, say): close it whatever its severity was
            return [(alert_for(incident, s, generator), ends) for s in _OPEN_SEVERITIES]
        new = alert_for(incident, generator_url=generator)
        old = self.open.get(incident.key)
        self.open[incident.key] = new
        if old is not None and old["labels"] != new["labels"]:
            return [(old, notification.at_ms), (new, None)]
        return [(new, None)]

    def encode(self, notification: Notification) -> object:
        if self._planned is None or self._planned[0] is not notification:
            self._planned = (notification, self.plan(notification))
        lease_end = self._lease_end()
        return [ending(alert, lease_end if ends is None else ends) for alert, ends in self._planned[1]]

    async def refresh(self) -> None:
        alerts = list(self.open.values())
        for start in range(0, len(alerts), ALERTS_PER_POST):
            ends = self._lease_end()
            await self.post([ending(alert, ends) for alert in alerts[start : start + ALERTS_PER_POST]])
