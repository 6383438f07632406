"""Slack incoming webhooks: one message per notification, an attachment coloured by severity.

The colour: critical ``danger`` (red), warning ``warning`` (yellow), unknown grey
(``#999999``), resolved ``good`` (green). The title says what happened and how bad
("[CRITICAL] web-1 heartbeat missed..."), the text the rule and the action, the fields the
incident's labels, its value and its details. Slack reads ``&``, ``<`` and ``>`` as markup,
so they are escaped as its docs ask. The webhook URL is the secret (its path is the token).
"""

from __future__ import annotations

from dataclasses import dataclass

from .._model import Action, Notification, Severity
from ._base import HttpOptions, HttpOutput, finite

COLOURS: dict[Severity, str] = {"critical": "danger", "warning": "warning", "unknown": "#999999", "ok": "good"}
VERBS: dict[Action, str] = {
    "trigger": "opened",
    "update": "changed severity",
    "renotify": "still open",
    "resolve": "resolved",
    "remediate": "remediation",
}
#: Slack shows at most this many fields of an attachment; more are cut (and said so).
MAX_FIELDS = 20
TEXT_CHARS = 3000


@dataclass(frozen=True)
class SlackOptions(HttpOptions):
    channel: str = ""  #: overrides the webhook's channel (legacy webhooks only)
    username: str = ""  #: likewise the poster's name
    icon_emoji: str = ""


def escape(text: str) -> str:
    """Slack's three control characters, escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(notification: Notification, options: SlackOptions | None = None) -> dict[str, object]:
    """The webhook body for ``notification``."""
    incident = notification.incident
    resolved = notification.action == "resolve"
    severity: Severity = "ok" if resolved else incident.severity
    shown = "RESOLVED" if resolved else incident.severity.upper()
    title = escape(f"[{shown}] {incident.summary}"[:TEXT_CHARS])
    fields = [{"title": "severity", "value": incident.severity if not resolved else "ok", "short": True}]
    fields += [{"title": escape(name), "value": escape(value), "short": True} for name, value in incident.labels]
    value = finite(incident.value)
    if value is not None:
        fields.append({"title": "value", "value": f"{value:g}", "short": True})
    fields += [
        {"title": escape(name), "value": escape(text[:TEXT_CHARS]), "short": False} for name, text in incident.details
    ]
    if len(fields) > MAX_FIELDS:
        cut = len(fields) - (MAX_FIELDS - 1)
        fields = [*fields[: MAX_FIELDS - 1], {"title": "…", "value": f"{cut} more fields", "short": True}]
    attachment: dict[str, object] = {
        "fallback": title,
        "color": COLOURS.get(severity, "#999999"),
        "title": title,
        "text": escape(f"{incident.rule} ({incident.kind}): {VERBS[notification.action]}"),
        "fields": fields,
        "footer": escape(f"numbat · {incident.key}"[:TEXT_CHARS]),
        "ts": notification.at_ms // 1000,
    }
    message: dict[str, object] = {"attachments": [attachment]}
    if options is not None:
        message |= {
            key: getattr(options, key) for key in ("channel", "username", "icon_emoji") if getattr(options, key)
        }
    return message


class SlackOutput(HttpOutput[SlackOptions]):
    kind = "slack"
    Options = SlackOptions

    def encode(self, notification: Notification) -> object:
        return slack_message(notification, self.options)
