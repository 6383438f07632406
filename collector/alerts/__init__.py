"""Alerts: rules over the event stream, the incidents they open, and the notifications
about them. The core is sans-I/O (no clock, no trio): :class:`AlertEngine` takes events
and the time (:meth:`AlertEngine.observe`, :meth:`AlertEngine.tick`) and returns
:class:`Notification` s, which the outputs send (``outputs/``: PagerDuty, Slack, a
webhook, Alertmanager, the log, a remediation command; I/O, trio, imported on its own).

Modules: ``_model.py`` (the shared interface: Incident, Notification, Silence),
``_rules.py`` (each kind of rule's options, checked), ``_engine.py`` (the engine: the
event path, the timers, snapshot and restore), one watcher per kind of rule
(``_heartbeat.py``, ``_status.py``, ``_threshold.py`` with ratios, ``_absent.py``) on
``_watch.py``, ``_confirm.py`` (``for``: when a breach counts), ``_windows.py`` (sliding
windows and their statistics), ``_incidents.py`` (the incident book: decisions, flap
damping, reminders, silences).
"""

from ._engine import AlertEngine
from ._incidents import BookStats
from ._model import Action, Incident, Notification, Severity, Silence
from ._rules import RULE_TYPES, AbsentRule, AlertRule, HeartbeatRule, RatioRule, StatusRule, ThresholdRule, check_rules
from ._watch import EngineStats

__all__ = [
    "RULE_TYPES",
    "AbsentRule",
    "Action",
    "AlertEngine",
    "AlertRule",
    "BookStats",
    "EngineStats",
    "HeartbeatRule",
    "Incident",
    "Notification",
    "RatioRule",
    "Severity",
    "Silence",
    "StatusRule",
    "ThresholdRule",
    "check_rules",
]
