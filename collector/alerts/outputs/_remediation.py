"""The remediation command: what heals the problem a rule has seen, run once per "remediate".

The command is the notification's argv, run without a shell, in a session of its own
(so that a timeout kills everything it started: SIGTERM to the group, SIGKILL after
``kill_grace`` seconds), stdin from /dev/null, stdout and stderr together into a pipe of
which the first ``output_bytes`` are kept for the log and the rest read and counted. It
sees numbatd's environment plus the incident's: NUMBAT_INCIDENT_KEY, _RULE, _KIND,
_SEVERITY, _SUMMARY, _VALUE, and NUMBAT_INCIDENT (the webhook's JSON of it). At most
``max_concurrent`` commands run at once; more wait in the queue. A command is never run
twice for one notification: a failure is logged and counted (exit status, timeout, not
started), never retried. A command that leaves children behind after exiting 0 (a
daemon it started) keeps them: only a timeout kills the group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from typing import ClassVar

import orjson
import trio

from ...config import require, require_at_most
from ...observe import log
from .._model import Action, Notification
from ._base import Output, OutputOptions, Rejected, finite


@dataclass(frozen=True)
class RemediationOptions(OutputOptions):
    timeout: float = 60.0  #: seconds a command may run before it is killed
    max_attempts: int = 1  #: a command is never run twice for one notification
    max_concurrent: int = 2  #: commands running at once
    output_bytes: int = 4096  #: of its output kept for the log
    kill_grace: float = 5.0  #: seconds between SIGTERM and SIGKILL at a timeout

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.max_attempts == 1, "max_attempts", "must be 1: a command is never run twice")
        require(self.max_concurrent > 0, "max_concurrent", "must be positive")
        require_at_most(self.max_concurrent, 64, "max_concurrent")
        require(0 <= self.output_bytes <= 1 << 20, "output_bytes", "must be in 0..1048576")
        require(self.kill_grace > 0, "kill_grace", "must be positive")


def command_environment(notification: Notification, base: dict[str, str] | None = None) -> dict[str, str]:
    """numbatd's environment (or ``base``) plus the incident's variables (NUL bytes,
    which no environment can hold, dropped)."""
    incident = notification.incident
    value = finite(incident.value)
    added = {
        "NUMBAT_INCIDENT_KEY": incident.key,
        "NUMBAT_INCIDENT_RULE": incident.rule,
        "NUMBAT_INCIDENT_KIND": incident.kind,
        "NUMBAT_INCIDENT_SEVERITY": incident.severity,
        "NUMBAT_INCIDENT_SUMMARY": incident.summary,
        "NUMBAT_INCIDENT_VALUE": "" if value is None else repr(value),
        "NUMBAT_INCIDENT": orjson.dumps(incident.document()).decode(),
    }
    return {**(os.environ if base is None else base), **{k: v.replace("\0", "") for k, v in added.items()}}


@dataclass(frozen=True)
class Run:
    """What one command did."""

    exit_code: int | None  #: None when it was killed at the timeout
    output: bytes  #: its first output_bytes
    output_total: int  #: bytes it wrote in all
    seconds: float


class RemediationOutput(Output[RemediationOptions]):
    kind = "remediation"
    Options = RemediationOptions
    actions: ClassVar[frozenset[Action]] = frozenset({"remediate"})
    retries = False

    @property
    def workers(self) -> int:
        return self.options.max_concurrent

    @property
    def attempt_timeout(self) -> float:
        """The runner's bound: the command's own timeout, the kill, and reading what is left."""
        return self.options.timeout + 2 * self.options.kill_grace + 1

    async def send(self, notification: Notification) -> None:
        argv = notification.remediation
        fields: dict[str, object] = {
            "output": self.name,
            "incident": notification.incident.key,
            "command": argv[0] if argv else "",
        }
        if not argv:
            log.warning("remediation without a command", extra=fields)
            raise Rejected("no command", "not started", logged=True)
        try:
            run = await self.run(argv, command_environment(notification))
        except OSError as exc:
            log.warning("remediation command not started", extra={**fields, "error": exc.strerror or str(exc)})
            raise Rejected(f"{argv[0]}: {exc.strerror or exc}", "not started", logged=True) from None
        fields |= {
            "exit_code": run.exit_code,
            "seconds": round(run.seconds, 3),
            "command_output": run.output.decode("utf-8", "replace"),
            "output_bytes": run.output_total,
        }
        if run.exit_code is None:
            log.warning(f"remediation command killed after {self.options.timeout:g} s", extra=fields)
            raise Rejected("timed out", "timeout", logged=True)
        if run.exit_code != 0:
            log.warning("remediation command failed", extra=fields)
            raise Rejected(f"exited {run.exit_code}", "exit status", logged=True)
        log.info("remediation command ran", extra=fields)

    async def run(self, argv: tuple[str, ...], env: dict[str, str]) -> Run:
        """Run ``argv`` to its end or its timeout; OSError when it cannot start."""
        options = self.options
        started = trio.current_time()
        process = await trio.lowlevel.open_process(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
        kept = bytearray()
        total = 0
        read_all = trio.Event()

        async def read(stream: trio.abc.ReceiveStream) -> None:
            nonlocal total
            while chunk := await stream.receive_some(65536):
                total += len(chunk)
                kept.extend(chunk[: max(0, options.output_bytes - len(kept))])
            read_all.set()

        timed_out = False
        try:
            async with trio.open_nursery() as nursery:
                assert process.stdout is not None
                nursery.start_soon(read, process.stdout)
                with trio.move_on_after(options.timeout) as waiting:
                    await process.wait()
                if waiting.cancelled_caught:
                    timed_out = True
                    await self._kill(process)
                # children it left may hold the pipe open: read what comes quickly, no more
                with trio.move_on_after(min(options.kill_grace, 1.0)):
                    await read_all.wait()
                nursery.cancel_scope.cancel()
        finally:
            if process.returncode is None:  # cancelled (numbatd stopping): leave nothing behind
                with trio.CancelScope(shield=True):
                    await self._kill(process)
            with contextlib.suppress(OSError):
                if process.stdout is not None:
                    await trio.aclose_forcefully(process.stdout)
        return Run(
            exit_code=None if timed_out else process.returncode,
            output=bytes(kept),
            output_total=total,
            seconds=trio.current_time() - started,
        )

    async def _kill(self, process: trio.Process) -> None:
        """SIGTERM to the command's session, SIGKILL after kill_grace; reaped."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, sig)
            with trio.move_on_after(self.options.kill_grace):
                await process.wait()
                return
        await process.wait()
