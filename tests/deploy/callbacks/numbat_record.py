"""A callback plugin for the play tests: every task's and handler's result, one JSON line
each, into the file $NUMBAT_RECORD names (ansible-core ships no JSON callback)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from ansible.playbook.handler import Handler
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "numbat_record"
    CALLBACK_NEEDS_ENABLED = True

    _started = 0.0

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        self._started = time.monotonic()

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        self._started = time.monotonic()

    def _record(self, result: Any, status: str) -> None:
        task = result._task
        outcome = result._result
        line = {
            "task": task.name,  # without the role's name before it
            "role": task._role.get_name() if task._role else None,
            "handler": isinstance(task, Handler),
            "status": status,
            "changed": bool(outcome.get("changed", False)),
            "msg": str(outcome.get("msg", "")),
            "stderr": str(outcome.get("stderr", "")),
            "item": str(outcome.get("item", "")) if "item" in outcome else None,
            "seconds": round(time.monotonic() - self._started, 3),  # since the task started
        }
        with open(os.environ["NUMBAT_RECORD"], "a", encoding="utf-8") as record:
            record.write(json.dumps(line) + "\n")

    def v2_runner_on_ok(self, result: Any) -> None:
        self._record(result, "ok")

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._record(result, "skipped")

    def v2_runner_item_on_ok(self, result: Any) -> None:
        self._record(result, "ok")

    def v2_runner_item_on_failed(self, result: Any) -> None:
        self._record(result, "failed")

    def v2_runner_item_on_skipped(self, result: Any) -> None:
        self._record(result, "skipped")
