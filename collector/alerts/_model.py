"""The alerts' shared interface: what the engine hands the outputs (a Notification about an
Incident) and what silences an incident. Frozen dataclasses of plain values, so they pass
between the sans-I/O core, the outputs and the saved state as they are."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Severity = Literal["ok", "warning", "critical", "unknown"]  # "ok" only in a resolve
Action = Literal["trigger", "update", "resolve", "renotify", "remediate"]


@dataclass(frozen=True)
class Incident:
    key: str  # dedup key, stable across restarts: f"{rule}/{name}" + "/k=v" per key field, sorted
    rule: str  # the rule's name (config)
    kind: str  # heartbeat | status | threshold | absent | ratio
    severity: Severity  # now (warning, critical, unknown; "ok" once resolved)
    summary: str  # one human line: "web-1 heartbeat missed for 45 s (ttl 30 s)"
    labels: tuple[tuple[str, str], ...]  # sorted: the key fields (app, host, name...), for outputs' labels
    opened_ms: int
    updated_ms: int  # the last severity change
    value: float | None = None  # what was measured, when there is one
    resolved_ms: int | None = None
    details: tuple[tuple[str, str], ...] = ()  # extra text fields (the event's description...)

    def document(self) -> dict[str, object]:
        """The incident as JSON shows it everywhere (webhook, remediation's NUMBAT_INCIDENT,
        log line, alerts API), so a reader meets one shape; JSON has no NaN nor infinity,
        so such a value is null."""
        value = self.value if self.value is not None and math.isfinite(self.value) else None
        return {
            "key": self.key,
            "rule": self.rule,
            "kind": self.kind,
            "severity": self.severity,
            "summary": self.summary,
            "labels": dict(self.labels),
            "details": dict(self.details),
            "value": value,
            "opened_ms": self.opened_ms,
            "updated_ms": self.updated_ms,
            "resolved_ms": self.resolved_ms,
        }


@dataclass(frozen=True)
class Notification:
    action: Action
    incident: Incident
    at_ms: int
    remediation: tuple[str, ...] = ()  # argv, for action "remediate" only


@dataclass(frozen=True)
class Silence:
    id: str  # uuid4 hex
    match: str  # glob on Incident.key
    ends_ms: int
    comment: str = ""
    created_ms: int = 0
