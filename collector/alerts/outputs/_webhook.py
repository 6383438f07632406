"""A generic JSON webhook: the notification as it is, for whatever the operator runs.

The body (``version`` changes only when the shape does)::

    {"version": 1, "action": "trigger", "at_ms": 1700000000000,
     "incident": {"key": "...", "rule": "...", "kind": "heartbeat", "severity": "critical",
                  "summary": "...", "labels": {"app": "web", ...}, "details": {...},
                  "value": 45.0, "opened_ms": ..., "updated_ms": ..., "resolved_ms": null}}

``action`` is trigger, update, renotify or resolve; ``value`` is null when nothing was
measured (or it was not finite); times are milliseconds since the epoch. Any 2xx is
success; 408, 429 and 5xx are tried again; any other answer is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._model import Notification
from ._base import HttpOptions, HttpOutput

VERSION = 1


@dataclass(frozen=True)
class WebhookOptions(HttpOptions):
    pass


def webhook_document(notification: Notification) -> dict[str, object]:
    return {
        "version": VERSION,
        "action": notification.action,
        "at_ms": notification.at_ms,
        "incident": notification.incident.document(),
    }


class WebhookOutput(HttpOutput[WebhookOptions]):
    kind = "webhook"
    Options = WebhookOptions

    def encode(self, notification: Notification) -> object:
        return webhook_document(notification)
