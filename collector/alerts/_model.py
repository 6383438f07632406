"""The alerts' shared interface: what the engine hands the outputs (a Notification about an
Incident) and what silences an incident. Frozen dataclasses of plain values, so they pass
between the sans-I/O core, the outputs and the saved state as they are."""

from __future__ import annotations

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
