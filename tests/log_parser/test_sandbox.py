"""numbat-logs as deploy/numbat-logs-*.service run it: read-only everything, no writable
home, no NUMBA_CACHE_DIR (tests/sandbox.py). Counting a combined log past COMPILE_AFTER
bytes imports the compiled scanner, and numba wants a writable cache folder as soon as it
is imported: the scanner chooses one first (emitter.compiled_cache), which the first test
shows is what keeps it alive. ``serve`` imports no numba at all."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from log_parser.core._counter import COMPILE_AFTER

from ..collector.numbatd import free_port
from ..sandbox import python_in_sandbox, sandbox_problem, sandboxed, unit_environment
from ..waiting import wait_for
from .test_cli import LINES, numbat_logs

pytestmark = [
    pytest.mark.slow,  # the count compiles the scanner from nothing (about 20 s)
    pytest.mark.skipif(sandbox_problem() is not None, reason=sandbox_problem() or ""),
]

#: The scanner's import without the choice: the module that makes it, replaced by a no-op.
WITHOUT_THE_CHOICE = """
import jit
jit.use_compiled_cache = lambda *args, **kwargs: None
import log_parser.core._scanner
"""


def folders(root: Path, *names: str) -> list[Path]:
    made = [root / name for name in names]
    for folder in made:
        folder.mkdir()
    return made


def test_the_sandbox_is_real_the_scanner_cannot_cache_without_the_choice(tmp_path) -> None:
    result = python_in_sandbox(WITHOUT_THE_CHOICE, [], unit_environment(None))
    assert result.returncode != 0
    assert "no locator available" in result.stderr, result.stderr


def test_count_compiles_into_the_units_cache_directory(tmp_path) -> None:
    state, cache, tmp = folders(tmp_path, "state", "cache", "tmp")
    log = tmp_path / "access.log"
    copies = COMPILE_AFTER // len("\n".join(LINES)) + 1  # enough for the scanner to be loaded
    log.write_text("\n".join(LINES * copies) + "\n")
    env = unit_environment(None, STATE_DIRECTORY=str(state), CACHE_DIRECTORY=str(cache), TMPDIR=str(tmp))
    count = ["count", str(log), "--db", f"{state}/d.db"]
    result = subprocess.run(
        [*sandboxed([state, cache, tmp]), sys.executable, "-m", "log_parser", *count],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["downloads"] == 2 * copies
    assert result.stderr == ""  # no warning: the cache folder is the unit's
    assert list(cache.rglob("_scanner.*.nbi"))
    assert not (state / "numba-cache").exists()


def test_serve_runs_with_only_the_state_directory_writable(tmp_path) -> None:
    state, tmp = folders(tmp_path, "state", "tmp")
    log = tmp_path / "access.log"
    log.write_text("\n".join(LINES) + "\n")
    assert numbat_logs("count", str(log), "--db", f"{state}/d.db").returncode == 0  # outside: the store
    port = free_port()
    serve = ["serve", "--db", f"{state}/d.db", "--listen", f"127.0.0.1:{port}"]
    server = subprocess.Popen(
        [*sandboxed([state, tmp]), sys.executable, "-m", "log_parser", *serve],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=unit_environment("/", STATE_DIRECTORY=str(state), TMPDIR=str(tmp)),
    )
    url = f"http://127.0.0.1:{port}/downloads/point/2024-05-01/lodash"

    def answered() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except OSError:
            return server.poll() is not None

    try:
        assert wait_for(answered, 60)
        assert server.poll() is None, server.stderr.read()  # type: ignore[union-attr]
        with urllib.request.urlopen(url, timeout=5) as response:
            assert json.loads(response.read())["downloads"] == 2
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(20) == 0
    said = server.stderr.read().decode()  # type: ignore[union-attr]
    assert "numba" not in said, said  # hypercorn's "Running on" only
    assert "Traceback" not in said, said
    assert not (state / "numba-cache").exists()  # serve loads no numba, so it needs no cache folder
