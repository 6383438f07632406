"""Where notifications go: one module per output, each an encoder (pure) and its request,
and the runner that gives each output its own bounded queue, retries and timeout.

:data:`OUTPUT_TYPES` is the registry, by the name the configuration gives in ``type``:
each class's ``Options`` is the dataclass of its keys (checked in ``__post_init__``). An
alerts sink makes ``OutputRunner(output, stats)`` for each, runs them (:class:`Dispatch`),
and hands them notifications with ``submit``, which never waits.
"""

from collections.abc import Mapping
from typing import Any

from ._alertmanager import AlertmanagerOptions, AlertmanagerOutput
from ._base import HttpOptions, Output, OutputOptions, Rejected, Retryable
from ._log import LogOptions, LogOutput
from ._pagerduty import PagerDutyOptions, PagerDutyOutput
from ._remediation import RemediationOptions, RemediationOutput
from ._runner import Dispatch, OutputRunner
from ._slack import SlackOptions, SlackOutput
from ._webhook import WebhookOptions, WebhookOutput

OUTPUT_TYPES: Mapping[str, type[Output[Any]]] = {
    output.kind: output
    for output in (PagerDutyOutput, SlackOutput, WebhookOutput, AlertmanagerOutput, LogOutput, RemediationOutput)
}

__all__ = [
    "OUTPUT_TYPES",
    "AlertmanagerOptions",
    "AlertmanagerOutput",
    "Dispatch",
    "HttpOptions",
    "LogOptions",
    "LogOutput",
    "Output",
    "OutputOptions",
    "OutputRunner",
    "PagerDutyOptions",
    "PagerDutyOutput",
    "Rejected",
    "RemediationOptions",
    "RemediationOutput",
    "Retryable",
    "SlackOptions",
    "SlackOutput",
    "WebhookOptions",
    "WebhookOutput",
]
