"""numbatd as deploy/numbatd.service runs it: read-only everything, no writable home, no
NUMBA_CACHE_DIR; only the unit's state (and cache) folders writable (tests/sandbox.py).

With each sink type it must become ready, take events and exit 0 on SIGTERM. The
InfluxDB sink is the one that needs a cache folder for its compiled transcoder: without
emitter.compiled_cache's choice it died at start (``cannot cache function '_blanks': no
locator available``), which the first test shows the sandbox still provokes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import emitter

from ..emitter.receivers import StreamReceiver
from ..sandbox import python_in_sandbox, sandbox_problem, sandboxed, unit_environment
from ..waiting import wait_for
from .numbatd import Numbatd, free_port, wait_for_lines
from .test_influxdb import FAST, influx_sink

pytestmark = [
    pytest.mark.slow,  # two of these compile the transcoder from nothing (about 20 s each)
    pytest.mark.skipif(sandbox_problem() is not None, reason=sandbox_problem() or ""),
]

START_TIMEOUT = 120  # a first start compiles the transcoder; two shared cores are slow at it


class Unit:
    """The folders of one sandboxed run: ``state`` (StateDirectory=), ``cache``
    (CacheDirectory=), ``tmp`` (PrivateTmp=, as TMPDIR); the rest is read-only."""

    def __init__(self, root: Path, *, cache_directory: bool = False, state_writable: bool = True) -> None:
        self.root = root
        self.state, self.cache, self.tmp = root / "state", root / "cache", root / "tmp"
        for folder in (self.state, self.cache, self.tmp):
            folder.mkdir()
        self.writable = [self.tmp] + [self.state] * state_writable + [self.cache] * cache_directory
        self.variables = {"TMPDIR": str(self.tmp)} | ({"CACHE_DIRECTORY": str(self.cache)} if cache_directory else {})

    def numbatd(self, config: str, home: str | None) -> Numbatd:
        return Numbatd(
            self.root,
            f'state_dir = "{self.state}"\n' + config,
            wrapper=sandboxed(self.writable),
            env=unit_environment(home, **self.variables),
        )


def compiled_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("_transcoder.*.nbi"))


def send(port: int, count: int, start: int = 0) -> None:
    with emitter.Emitter(f"tcp://127.0.0.1:{port}", app="sandbox", host="h", **FAST) as sender:
        for i in range(start, start + count):
            sender.metric("probe", i, time=1_700_000_000_000 + i, route="/r")
        assert sender.flush(timeout=10)


def test_the_sandbox_is_real_the_transcoder_cannot_cache_without_a_choice(tmp_path) -> None:
    result = python_in_sandbox("import collector.sinks.influxdb._transcoder", [], unit_environment(None))
    assert result.returncode != 0
    assert "no locator available" in result.stderr, result.stderr


@pytest.mark.parametrize("sink", ["console", "jsonl", "forward"])
def test_local_and_forward_sinks_run_in_the_unit_sandbox(sink, tmp_path) -> None:
    unit = Unit(tmp_path)
    port = free_port()
    peer = StreamReceiver().start()
    sinks = {
        "console": '[[sinks]]\ntype = "console"\ncolour = "never"\n',
        "jsonl": f'[[sinks]]\ntype = "jsonl"\npath = "{unit.state}/events.jsonl"\nfsync = "never"\n',
        "forward": f'[[sinks]]\ntype = "forward"\nurl = "{peer.uri}"\nretry_base = 0.05\nretry_cap = 0.2\n',
    }
    daemon = unit.numbatd(f'[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n' + sinks[sink], home=None)
    try:
        daemon.start(START_TIMEOUT)
        send(port, 3)
        if sink == "console":
            assert wait_for(lambda: daemon.stdout_path.read_text().count("sandbox.probe") == 3), daemon.stderr()
        elif sink == "jsonl":
            assert [event["value"] for event in wait_for_lines(unit.state / "events.jsonl", 3)] == [0, 1, 2]
        else:
            assert wait_for(lambda: len(peer.lines) == 3), daemon.stderr()
        assert daemon.stop() == 0, daemon.stderr()
    finally:
        daemon.kill()
        peer.stop()
    assert not [entry for entry in daemon.logs() if entry["level"] in ("warning", "error")], daemon.stderr()


@pytest.mark.parametrize(
    ("cache_directory", "home"),
    [
        pytest.param(True, "/", id="CacheDirectory=-HOME-read-only"),
        pytest.param(False, None, id="state_dir-no-HOME"),
    ],
)
def test_the_influxdb_sink_runs_in_the_unit_sandbox(cache_directory, home, influxd, tmp_path) -> None:
    unit = Unit(tmp_path, cache_directory=cache_directory)
    port = free_port()
    daemon = unit.numbatd(f'[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n' + influx_sink(influxd), home=home)
    try:
        daemon.start(START_TIMEOUT)
        send(port, 3)  # a new series: the LineEncoder writes it and the transcoder learns it
        assert wait_for(lambda: influxd.count("sandbox.probe", "v1db") == 3, 20), daemon.stderr()
        send(port, 3, start=3)  # a known series: the compiled path
        assert wait_for(lambda: influxd.count("sandbox.probe", "v1db") == 6, 20), daemon.stderr()
        assert daemon.stop() == 0, daemon.stderr()
    finally:
        daemon.kill()
    assert not [entry for entry in daemon.logs() if entry["level"] in ("warning", "error")], daemon.stderr()
    in_cache, in_state = compiled_files(unit.cache), compiled_files(unit.state / "numba-cache")
    assert (bool(in_cache), bool(in_state)) == (cache_directory, not cache_directory)


def test_with_nothing_writable_but_tmp_the_cache_is_temporary_and_said_so_once(tmp_path) -> None:
    unit = Unit(tmp_path, state_writable=False)
    port = free_port()
    daemon = unit.numbatd(f'[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n[[sinks]]\ntype = "console"\n', home="/")
    try:
        daemon.start(START_TIMEOUT)
        send(port, 1)
        assert wait_for(lambda: "sandbox.probe" in daemon.stdout_path.read_text()), daemon.stderr()
        assert daemon.stop() == 0, daemon.stderr()
    finally:
        daemon.kill()
    warnings = [entry for entry in daemon.logs() if entry["level"] == "warning"]
    assert len(warnings) == 1, daemon.stderr()
    assert "compiled again at every start" in warnings[0]["message"]
    assert "CacheDirectory=" in warnings[0]["message"]
    assert Path(warnings[0]["numba_cache_dir"]).parent == unit.tmp
    assert os.listdir(unit.tmp) == []  # removed at exit
    assert os.listdir(unit.state) == []  # read-only: nothing was made there
