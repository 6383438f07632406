"""Running the real numbat-run (``python -m monitor``, as the console script does) on a
child written in Python, its events received on a real UDP socket of 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def env() -> dict[str, str]:
    """This checkout first on the path, for numbat-run and for nothing else it runs."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environment.get("PYTHONPATH")]))
    return environment


def monitor_argv(options: Sequence[str], child: str | None = None, command: Sequence[str] = ()) -> list[str]:
    """numbat-run with ``options`` around a Python ``child`` program (or any ``command``)."""
    if child is not None:
        command = [sys.executable, "-c", textwrap.dedent(child)]
    return [sys.executable, "-m", "monitor", *options, "--", *command]


def start(options: Sequence[str], child: str, cwd: Path, **popen: Any) -> subprocess.Popen[bytes]:
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(monitor_argv(options, child), cwd=cwd, env=env(), **popen)


def run(
    options: Sequence[str],
    child: str | None,
    cwd: Path,
    timeout: float = 30,
    command: Sequence[str] = (),
    **kwargs: Any,
) -> subprocess.CompletedProcess[bytes]:
    argv = monitor_argv(options, child, command)
    return subprocess.run(argv, cwd=cwd, env=env(), capture_output=True, timeout=timeout, check=False, **kwargs)


def named(events: list[dict], name: str) -> list[dict]:
    return [event for event in events if event["name"] == name]
