"""The log output: each notification as a line of numbatd's own JSON log.

Level by what it says: a critical incident opened, changed or still open is an error, a
warning or unknown one a warning, a resolve info. Nothing here can fail, so nothing is
retried; the fields are the incident's, never an output's secret.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ...observe import log
from .._model import Notification
from ._base import Output, OutputOptions

LEVELS = {"critical": logging.ERROR, "warning": logging.WARNING, "unknown": logging.WARNING, "ok": logging.INFO}


@dataclass(frozen=True)
class LogOptions(OutputOptions):
    pass


def log_fields(notification: Notification) -> dict[str, object]:
    """The log line's fields for ``notification``: the incident's document, its key
    named ``incident`` (a log record has no ``key``-free namespace of its own)."""
    document = notification.incident.document()
    return {"action": notification.action, "incident": document.pop("key"), **document}


class LogOutput(Output[LogOptions]):
    kind = "log"
    Options = LogOptions

    async def send(self, notification: Notification) -> None:
        level = logging.INFO if notification.action == "resolve" else LEVELS.get(notification.incident.severity, 30)
        fields = log_fields(notification)
        log.log(level, f"incident {notification.action}: {notification.incident.summary}", extra=fields)
