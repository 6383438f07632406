"""The remediation output runs real commands: once per "remediate" notification, with the
incident in its environment; a failure is logged with its exit status and output, counted,
and never run again; a command past its timeout is killed with everything it started; no
more than max_concurrent run at once; the output kept for the log is bounded."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import orjson

from collector.alerts import Notification
from collector.alerts.outputs import RemediationOptions, RemediationOutput

from ..waiting import wait_for
from .alert_outputs import HEARTBEAT, Counts, in_trio, notify, running, until

SH = "/bin/sh"


def remediate(*argv: str, key: str = HEARTBEAT.key) -> Notification:
    return Notification("remediate", notify("trigger", key=key).incident, 0, remediation=argv)


def remediation(**options: object) -> RemediationOutput:
    return RemediationOutput("fix", RemediationOptions(**{"kill_grace": 0.5} | options))


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper is dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@in_trio
async def test_the_command_runs_once_and_its_effect_is_seen(tmp_path: Path, caplog) -> None:
    effect = tmp_path / "restored"
    counts = Counts()
    caplog.set_level(logging.INFO, logger="numbatd")
    script = 'printf "%s|%s|%s" "$NUMBAT_INCIDENT_KEY" "$NUMBAT_INCIDENT_SEVERITY" "$NUMBAT_INCIDENT_VALUE" > "$1"'
    script += "; echo done"
    async with running(counts, remediation()) as [runner]:
        assert not runner.submit(notify("trigger"))  # only "remediate" reaches it
        assert runner.submit(remediate(SH, "-c", script, "sh", str(effect)))
        await until(lambda: counts.sent("fix") == 1)
    assert effect.read_text() == f"{HEARTBEAT.key}|critical|45.0"
    [ran] = [r for r in caplog.records if r.getMessage() == "remediation command ran"]
    assert (ran.exit_code, ran.command_output, ran.command) == (0, "done\n", SH)  # type: ignore[attr-defined]


@in_trio
async def test_the_whole_incident_is_in_the_environment_as_json(tmp_path: Path) -> None:
    seen = tmp_path / "incident.json"
    counts = Counts()
    async with running(counts, remediation()) as [runner]:
        runner.submit(remediate(SH, "-c", 'printf "%s" "$NUMBAT_INCIDENT" > "$1"', "sh", str(seen)))
        await until(lambda: counts.sent("fix") == 1)
    assert orjson.loads(seen.read_bytes())["labels"] == {"app": "web", "host": "web-1"}


@in_trio
async def test_a_failing_command_is_logged_counted_and_not_run_again(tmp_path: Path, caplog) -> None:
    runs = tmp_path / "runs"
    counts = Counts()
    async with running(counts, remediation()) as [runner]:
        runner.submit(remediate(SH, "-c", 'echo run >> "$1"; echo "replication broken" >&2; exit 3', "sh", str(runs)))
        await until(lambda: counts.failed("fix") == {"exit status": 1})
    assert runs.read_text() == "run\n"
    [failed] = [r for r in caplog.records if r.getMessage() == "remediation command failed"]
    assert (failed.exit_code, failed.command_output) == (3, "replication broken\n")  # type: ignore[attr-defined]
    assert counts.sent("fix") == counts.retried("fix") == 0


@in_trio
async def test_a_command_past_its_timeout_is_killed_with_what_it_started(tmp_path: Path, caplog) -> None:
    pids = tmp_path / "pids"
    counts = Counts()
    script = 'sleep 30 & echo $! > "$1"; echo $$ >> "$1"; wait'
    async with running(counts, remediation(timeout=0.3)) as [runner]:
        runner.submit(remediate(SH, "-c", script, "sh", str(pids)))
        await until(lambda: counts.failed("fix") == {"timeout": 1}, timeout=5)
    child, shell = map(int, pids.read_text().split())
    assert not alive(shell)
    assert wait_for(lambda: not alive(child), 2)  # the sleep it left in the background went too
    [killed] = [r for r in caplog.records if r.getMessage().startswith("remediation command killed")]
    assert killed.exit_code is None  # type: ignore[attr-defined]


@in_trio
async def test_no_more_than_max_concurrent_run_at_once(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    counts = Counts()
    script = 'echo start >> "$1"; sleep 0.3; echo end >> "$1"'
    async with running(counts, remediation(max_concurrent=2)) as [runner]:
        for i in range(5):
            runner.submit(remediate(SH, "-c", script, "sh", str(journal), key=f"k{i}"))
        await until(lambda: counts.sent("fix") == 5, timeout=5)
    running_now, most = 0, 0
    for line in journal.read_text().split():
        running_now += 1 if line == "start" else -1
        most = max(most, running_now)
    assert most == 2


@in_trio
async def test_the_output_kept_is_bounded_and_the_rest_counted(caplog) -> None:
    counts = Counts()
    caplog.set_level(logging.INFO, logger="numbatd")
    async with running(counts, remediation(output_bytes=100)) as [runner]:
        runner.submit(remediate(sys.executable, "-c", "import sys; sys.stdout.write('x' * 100_000)"))
        await until(lambda: counts.sent("fix") == 1)
    [ran] = [r for r in caplog.records if r.getMessage() == "remediation command ran"]
    assert (ran.command_output, ran.output_bytes) == ("x" * 100, 100_000)  # type: ignore[attr-defined]


@in_trio
async def test_a_command_that_cannot_start_is_counted(tmp_path: Path, caplog) -> None:
    counts = Counts()
    async with running(counts, remediation()) as [runner]:
        runner.submit(remediate(str(tmp_path / "no-such-command")))
        runner.submit(remediate())
        await until(lambda: counts.failed("fix") == {"not started": 2})
    assert "remediation command not started" in caplog.text
    assert "remediation without a command" in caplog.text
