"""The site playbook applied for real to this machine (connection: local), into a
temporary root (tests/deploy/play.py): it installs numbat from the checkout's wheel into
a virtual environment, writes numbatd's configuration and the four kinds of units, and
checks each before it is put in place. Then the installed numbatd, started from there,
receives an event; a second run changes nothing; a bad configuration variable fails the
play before anything is reloaded; a wheel rebuilt under the same version is installed
again; a service taken off numbat_run_services has its unit removed.

Where systemd is not running (a container: the case on the machines the suite runs on), the
units are written and checked with systemd-analyze verify (the template's validate), and
the tasks that enable, start, restart or reload them are skipped: the last test says so.
The six runs take about two minutes together: the module is marked slow.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import orjson
import pytest

from ..collector.numbatd import free_port, wait_for_lines
from ..processes import terminate
from ..waiting import wait_for
from .play import PLAYBOOK, Fleet, PlayRun, build_wheel, fleet_on_this_machine, outside_env, systemd_running

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not PLAYBOOK.exists(), reason="ansible-playbook is not installed: pip install -e '.[dev]'"),
]

UNITS = ["numbatd.service", "numbat-logs-live.service", "numbat-logs-api.service", "numbat-run-registry.service"]
CONFIG_TASK = "Write numbatd.toml, checked by numbatd --check-config before it is put in place"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    ports = {name: free_port() for name in ("numbatd", "metrics", "syslog", "api")}
    return fleet_on_this_machine(tmp_path_factory.mktemp("fleet"), ports)


@pytest.fixture(scope="module")
def first(fleet: Fleet) -> PlayRun:
    run = fleet.apply("first")
    assert run.returncode == 0, run.output[-4000:]
    return run


def test_the_play_installs_and_configures_every_program(fleet: Fleet, first: PlayRun) -> None:
    venv = fleet.root / "opt" / "numbat"
    for program in ("numbatd", "numbat-logs", "numbat-run"):
        assert (venv / "bin" / program).exists(), program
    [site_packages] = venv.glob("lib/python3*/site-packages")
    assert (site_packages / "collector").is_dir()  # installed from the wheel, not the checkout's
    units = fleet.root / "etc" / "systemd" / "system"
    assert sorted(path.name for path in units.iterdir()) == sorted(UNITS)
    live = (units / "numbat-logs-live.service").read_text()
    assert f"ExecStart={venv}/bin/numbat-logs live \\\n    --syslog tcp://127.0.0.1:" in live
    assert "--json-field time=when \\\n    --max-connections 64\n" in live
    run_unit = (units / "numbat-run-registry.service").read_text()
    assert 'Environment="GREETING=50%% of $HOME, \\"quoted\\""' in run_unit
    # numbat was installed, so each program restarts; the new configuration reloads numbatd
    upgraded = [result for result in first.results if result["task"].startswith("Restart numbatd when numbat was")]
    assert [result["changed"] for result in upgraded] == [True]
    assert {result["task"] for result in first.handlers()} >= {
        "Reload numbatd",
        "Restart numbatd",
        "Restart numbat-logs live",
        "Restart numbat-logs serve",
        "Restart every numbat-run service",
    }


def test_the_installed_numbatd_receives_an_event(fleet: Fleet, first: PlayRun) -> None:
    venv = fleet.root / "opt" / "numbat"
    config = fleet.root / "etc" / "numbat" / "numbatd.toml"
    log = fleet.folder / "numbatd.log"
    with log.open("wb") as stderr:
        numbatd = subprocess.Popen(
            [str(venv / "bin" / "numbatd"), "--config", str(config)],
            cwd=fleet.folder,
            env=outside_env(),  # no PYTHONPATH: what runs is what the play installed
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        metrics = fleet.variables["numbatd_self_metrics_listen"]
        assert wait_for(lambda: _get(f"http://{metrics}/readyz") == 200 or numbatd.poll() is not None, 30)
        assert numbatd.poll() is None, log.read_text()
        port = int(fleet.variables["numbatd_listeners"][0]["url"].rpartition(":")[2])
        event = {"name": "ansible.deployed", "value": 7, "host": "fleet-test", "time": int(time.time() * 1000)}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(orjson.dumps(event), ("127.0.0.1", port))
        [received] = wait_for_lines(Path(fleet.variables["numbatd_sinks"][0]["path"]), 1)
        assert (received["name"], received["value"], received["host"]) == ("ansible.deployed", 7, "fleet-test")
        # the process is the installed numbatd: its interpreter is the virtual environment's
        assert Path(f"/proc/{numbatd.pid}/cmdline").read_bytes().split(b"\0")[0].startswith(str(venv).encode())
    finally:
        terminate(numbatd)


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except OSError:
        return 0


def test_a_second_run_changes_nothing(fleet: Fleet, first: PlayRun) -> None:
    second = fleet.apply("second")
    assert second.returncode == 0, second.output[-4000:]
    assert second.changed() == []
    assert second.handlers() == []
    assert "changed=0" in second.output
    assert "failed=0" in second.output


def test_a_bad_config_variable_fails_the_play_before_anything_is_reloaded(fleet: Fleet, first: PlayRun) -> None:
    config = fleet.root / "etc" / "numbat" / "numbatd.toml"
    before = config.read_bytes()
    sinks = [*fleet.variables["numbatd_sinks"], {"type": "jsonl", "name": "twice", "path": "/dev/null", "keep": -1}]
    bad = fleet.apply("bad", numbatd_sinks=sinks)
    assert bad.returncode != 0
    [failed] = bad.failed()
    assert failed["task"] == CONFIG_TASK
    assert "failed to validate" in failed["msg"]
    assert "keep" in failed["stderr"]  # numbatd --check-config named the key
    assert config.read_bytes() == before  # the running configuration stays
    assert bad.handlers() == []  # no reload, no restart
    # nothing after the check ran: not the unit, not the other programs' roles
    assert not [result for result in bad.results if result["task"].startswith("Install numbatd.service")]
    assert not [result for result in bad.results if result["role"] in ("numbat_logs_live", "numbat_run")]


def test_without_systemd_the_units_are_verified_and_their_tasks_skipped(fleet: Fleet, first: PlayRun) -> None:
    for task in ("Install numbatd.service, checked by systemd-analyze verify",):
        assert [result["status"] for result in first.named(task)] == ["ok"]
    skipped = {result["task"] for result in first.results if result["status"] == "skipped"}
    assert {
        "Enable and start numbatd",
        "Enable and start numbat-logs live",
        "Enable and start numbat-logs serve",
        "Enable and start each service",
        "Reload numbatd",
        "Restart numbatd",
    } <= skipped
    if not systemd_running():
        pytest.skip(
            "systemd is not running on this machine: the play wrote the four units into the temporary "
            "root, each checked by systemd-analyze verify before it was put there, and skipped the tasks "
            "that enable, start, restart and reload them"
        )
    pytest.skip("systemd runs here, but the play's temporary root is no place for it: the tasks were turned off")


def test_a_wheel_rebuilt_under_the_same_version_is_installed_again(fleet: Fleet, first: PlayRun) -> None:
    """pip skips a wheel of the version installed; the role tells a rebuilt one by its checksum."""
    mark = "\n# rebuilt under the same version\n"

    def edit(source: Path) -> None:
        with (source / "collector" / "__init__.py").open("a") as module:
            module.write(mark)

    (fleet.folder / "rebuilt-wheel").mkdir()
    rebuilt = build_wheel(fleet.folder / "rebuilt-wheel", edit)
    assert rebuilt.name == Path(fleet.variables["numbat_wheel"]).name  # the same version
    run = fleet.apply("rebuilt", numbat_wheel=str(rebuilt))
    assert run.returncode == 0, run.output[-4000:]
    [site_packages] = (fleet.root / "opt" / "numbat").glob("lib/python3*/site-packages")
    assert (site_packages / "collector" / "__init__.py").read_text().endswith(mark)
    again = run.named("Install numbat again from a wheel rebuilt under the version installed")
    # once, in numbatd's role (the first); the other roles find it done
    assert [result["changed"] for result in again] == [True] + [False] * (len(again) - 1)
    assert [result["status"] for result in again[1:]] == ["skipped"] * (len(again) - 1)
    upgraded = [result for result in run.results if result["task"].startswith("Restart numbatd when numbat was")]
    assert [result["changed"] for result in upgraded] == [True]  # numbatd restarts on the new code
    assert "Restart every numbat-run service" in {result["task"] for result in run.handlers()}


def test_a_service_taken_off_the_list_has_its_unit_removed(fleet: Fleet, first: PlayRun) -> None:
    units = fleet.root / "etc" / "systemd" / "system"
    handmade = units / "numbat-run-handmade.service"  # named alike, not written by the role: left alone
    handmade.write_text("[Service]\nExecStart=/bin/true\n")
    services = fleet.variables["numbat_run_services"]
    try:
        added = fleet.apply("added", numbat_run_services=[*services, {"name": "batch", "command": ["/bin/true"]}])
        assert added.returncode == 0, added.output[-4000:]
        assert (units / "numbat-run-batch.service").exists()
        removed = fleet.apply("removed", numbat_run_services=services)
        assert removed.returncode == 0, removed.output[-4000:]
        assert not (units / "numbat-run-batch.service").exists()
        assert (units / "numbat-run-registry.service").exists()
        assert handmade.exists()
        gone = removed.named("Remove the units of the services no longer listed")
        assert [(result["item"], result["changed"]) for result in gone if result["item"]] == [
            ("numbat-run-batch.service", True)
        ]
        # stopped, disabled and systemd reloaded where it runs; not here
        for task in (
            "Stop and disable the services no longer listed",
            "Reload systemd's units after units were removed",
        ):
            assert {result["status"] for result in removed.named(task)} == {"skipped"}, task
    finally:
        handmade.unlink()
