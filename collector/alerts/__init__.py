"""Alerts: rules over the event stream, incidents, and the notifications sent about them.

_model.py is the shared interface (Incident, Notification, Silence); outputs/ sends
notifications (PagerDuty, Slack, a webhook, Alertmanager, the log, a remediation command).
"""

from ._model import Action, Incident, Notification, Severity, Silence

__all__ = ["Action", "Incident", "Notification", "Severity", "Silence"]
