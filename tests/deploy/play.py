"""Applying deploy/ansible/site.yml for real to this machine (connection: local), into a
temporary root: the pieces the play tests share.

What is installed comes from the checkout, and nothing from the network: the checkout is
built once into a wheel (pip wheel, without build isolation: setuptools from the test
environment) that the play copies and installs as an operator's play does. numbat's
dependencies are not downloaded again: the virtual environment under the temporary root
is made before the play (the role finds it and leaves it) with a .pth file that puts a
view of the test environment's site-packages on its path, numbat's own files left out of
the view (pip too, run by a bin/pip of the environment's own python, for Ansible's pip module
to find). pip then finds every dependency of the extras already installed and installs
numbat alone, from the wheel, with --no-index (numbat_pip_extra_args). A plain venv and
pip's resolution of each extra: seconds, where installing numba and numpy again would
take a minute.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = ROOT / "deploy" / "ansible"
PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
CALLBACKS = Path(__file__).parent / "callbacks"
#: Left out of the copy the wheel is built from: what git ignores, and git itself.
NOT_SOURCE = (".git", ".venv", "__pycache__", "build", "dist", "*.egg-info", ".*_cache", ".hypothesis", "*.nb[ic]")
PIP_WHEEL = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps", "--no-index"]
PIP_WHEEL += ["--no-build-isolation"]  # setuptools from this environment: nothing downloaded
#: What of the test environment's site-packages the installed numbat must not see: numbat itself.
NUMBAT_OWN = ("numbat-", "numbat_", "__editable__")


def systemd_running() -> bool:
    """As sd_booted() and the numbat_common role tell it."""
    return Path("/run/systemd/system").is_dir()


def outside_env(**more: str) -> dict[str, str]:
    """This environment less PYTHONPATH and the like, which would bring the checkout into
    the installed programs the play runs (numbatd --check-config...)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update(more)
    return env


def build_wheel(folder: Path, edit: Callable[[Path], None] | None = None) -> Path:
    """The checkout as a wheel in ``folder``; ``edit`` changes the copy it is built from
    first (a rebuild under the same version)."""
    source = folder / "numbat"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    if edit is not None:
        edit(source)
    subprocess.run(
        [*PIP_WHEEL, "-w", str(folder / "dist"), str(source)],
        cwd=folder,
        env=outside_env(),
        capture_output=True,
        timeout=120,
        check=True,
    )
    [wheel] = (folder / "dist").glob("numbat-*.whl")
    return wheel


def make_venv_with_dependencies(venv: Path, folder: Path) -> None:
    """A virtual environment whose path holds a view of this one's site-packages, numbat left out."""
    view = folder / "dependencies"
    view.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(NUMBAT_OWN) and entry.suffix != ".pth":
            (view / entry.name).symlink_to(entry)
    make = [sys.executable, "-m", "venv", "--without-pip", str(venv)]  # ensurepip takes seconds
    subprocess.run(make, env=outside_env(), capture_output=True, timeout=120, check=True)
    [site_packages] = venv.glob("lib/python3*/site-packages")
    (site_packages / "numbat-test-dependencies.pth").write_text(f"{view}\n")
    # pip from the view, installing into this environment (its sys.prefix), where Ansible's pip module looks
    pip = venv / "bin" / "pip"
    pip.write_text(f'#!/bin/sh\nexec "{venv}/bin/python" -m pip "$@"\n')
    pip.chmod(0o755)


@dataclass
class PlayRun:
    returncode: int
    output: str
    results: list[dict[str, Any]]  #: one per task and handler result (tests/deploy/callbacks)

    def named(self, task: str) -> list[dict[str, Any]]:
        return [result for result in self.results if result["task"] == task]

    def changed(self) -> list[dict[str, Any]]:
        return [result for result in self.results if result["changed"]]

    def failed(self) -> list[dict[str, Any]]:
        return [result for result in self.results if result["status"] == "failed"]

    def handlers(self) -> list[dict[str, Any]]:
        return [result for result in self.results if result["handler"]]


@dataclass
class Fleet:
    """localhost as every group of the example inventory, with the variables that put the
    whole install under ``root``."""

    folder: Path
    root: Path
    variables: dict[str, Any]

    def apply(self, name: str, **override: Any) -> PlayRun:
        """ansible-playbook site.yml, with ``override`` as extra variables after the fleet's."""
        run = self.folder / name
        run.mkdir()
        (run / "override.json").write_text(json.dumps(override))
        record = run / "record.jsonl"
        record.touch()
        env = outside_env(
            ANSIBLE_CONFIG=str(ANSIBLE / "ansible.cfg"),
            ANSIBLE_HOME=str(self.folder / "ansible-home"),
            ANSIBLE_LOCAL_TEMP=str(self.folder / "ansible-tmp"),
            ANSIBLE_REMOTE_TEMP=str(self.folder / "ansible-tmp"),
            ANSIBLE_CALLBACK_PLUGINS=str(CALLBACKS),
            ANSIBLE_CALLBACKS_ENABLED="numbat_record",
            ANSIBLE_NOCOLOR="1",
            NUMBAT_RECORD=str(record),
        )
        extra = ["-e", f"@{run / 'override.json'}", "site.yml"]
        result = subprocess.run(
            [str(PLAYBOOK), "-i", str(self.folder / "hosts.json"), "-e", f"@{self.folder / 'variables.json'}", *extra],
            cwd=ANSIBLE,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        (run / "output.txt").write_text(result.stdout + result.stderr)
        results = [json.loads(line) for line in record.read_text().splitlines()]
        return PlayRun(result.returncode, result.stdout + result.stderr, results)


def fleet_on_this_machine(folder: Path, ports: dict[str, int]) -> Fleet:
    root = folder / "root"
    (root / "etc" / "systemd" / "system").mkdir(parents=True)  # there on any host
    state = root / "var" / "lib" / "numbat"
    state.mkdir(parents=True)  # systemd's StateDirectory= on a host
    wheel = build_wheel(folder)
    make_venv_with_dependencies(root / "opt" / "numbat", folder)
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    groups = {group: {"hosts": {"localhost": None}} for group in ("collectors", "cdn_log_hosts", "api_hosts")}
    (folder / "hosts.json").write_text(json.dumps({"all": {"hosts": {"localhost": host}, "children": groups}}))
    numbatd = f"127.0.0.1:{ports['numbatd']}"
    variables: dict[str, Any] = {
        "ansible_become": False,  # site.yml becomes root on a fleet; the temporary root needs no sudo
        "numbat_venv": str(root / "opt" / "numbat"),
        "numbat_wheel": str(wheel),
        "numbat_pip_extra_args": "--no-index",
        "numbat_config_dir": str(root / "etc" / "numbat"),
        "numbat_unit_dir": str(root / "etc" / "systemd" / "system"),
        "numbatd_state_dir": str(state),
        "numbatd_self_metrics_listen": f"127.0.0.1:{ports['metrics']}",
        "numbatd_listeners": [
            {"url": f"udp://{numbatd}", "format": "numbat"},
            {"url": f"tcp://{numbatd}", "format": "numbat", "limits": {"max_connections": 64}},
        ],
        "numbatd_sinks": [{"type": "jsonl", "name": "archive", "path": str(state / "events.jsonl")}],
        "numbat_logs_live_syslog": f"tcp://127.0.0.1:{ports['syslog']}",
        "numbat_logs_live_db": str(state / "downloads.sqlite"),
        "numbat_logs_live_emit_uri": f"udp://{numbatd}",
        "numbat_logs_live_extra_args": ["--json-field", "time=when", "--max-connections", "64"],
        "numbat_logs_serve_db": str(state / "downloads.sqlite"),
        "numbat_logs_serve_listen": f"127.0.0.1:{ports['api']}",
        "numbat_logs_serve_cors_origins": ["https://www.example.com"],
        "numbat_run_uri": f"udp://{numbatd}",
        "numbat_run_services": [
            {
                "name": "registry",
                "command": ["/bin/sleep", "3600"],
                "options": ["--logs", "--interval", "10"],
                "environment": {"GREETING": '50% of $HOME, "quoted"'},
            }
        ],
    }
    if systemd_running():
        # The temporary root is no place for this machine's systemd: its tasks stay off.
        variables["numbat_common_systemd_running"] = False
    (folder / "variables.json").write_text(json.dumps(variables))
    return Fleet(folder, root, variables)
