"""``pip install numbat`` is the emitter alone; each program's extra brings what it imports.

The slow half builds a fresh virtual environment, installs the checkout into it without
extras (a regular, non-editable install: pip builds the wheel as a user's pip would;
orjson comes from the package index, or pip's cache), and uses it the way a service
would: imports the emitter, sends an event and numbat-emit's metric to a UDP socket
bound here, on 127.0.0.1. It checks that pip installed numbat and orjson and nothing
else, that none of the extras' modules can be found there, and that numbatd and
numbat-logs each answer with the one line naming their extra. Every command has a
timeout. The fast half checks the launcher's lists against the source and pyproject.toml,
so that a new import in collector/ or log_parser/ that no extra brings fails here.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

import numbat_launcher
from numbat_launcher import COLLECTOR, DASK, LOGS, RUN, Extra

ROOT = Path(__file__).parent.parent
EXTRAS_MODULES = sorted({*COLLECTOR.modules, *LOGS.modules, *DASK.modules, *RUN.modules})
#: In an extra's list though not imported by numbat's code: libcloud's local-folder driver
#: imports fasteners, which libcloud does not require.
IMPORTED_BY_A_DEPENDENCY = {"fasteners"}
#: Left out of the copy that is installed: what git ignores, and git itself.
NOT_SOURCE = (".git", ".venv", "__pycache__", "build", "dist", "*.egg-info", ".*_cache", ".hypothesis", "node_modules")


# --- the fresh virtual environment -------------------------------------------------


@dataclass(frozen=True)
class BareInstall:
    bin: Path
    seeded: frozenset[str]  #: distributions in the new environment before numbat was installed
    installed: frozenset[str]  #: and after
    folder: Path

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run in the environment, from a folder that holds no numbat source, with no
        PYTHONPATH: what is imported is what pip installed."""
        return subprocess.run(
            argv, cwd=self.folder, env=outside_env(), capture_output=True, text=True, timeout=timeout, check=False
        )

    def python(self, code: str) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.bin / "python"), "-I", "-c", code)


def outside_env() -> dict[str, str]:
    """This environment less PYTHONPATH and the like, which would bring the checkout in."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}


def distributions(python: Path) -> frozenset[str]:
    code = "import importlib.metadata as m, json; print(json.dumps([d.metadata['Name'] for d in m.distributions()]))"
    listing = subprocess.run(
        [str(python), "-I", "-c", code], env=outside_env(), capture_output=True, text=True, timeout=60, check=True
    )
    return frozenset(_normalized(name) for name in json.loads(listing.stdout))


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> BareInstall:
    folder = tmp_path_factory.mktemp("bare")
    source = folder / "numbat"  # a copy, so that pip's build leaves nothing in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    venv = folder / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", str(venv)], env=outside_env(), capture_output=True, timeout=120, check=True
    )
    seeded = distributions(venv / "bin" / "python")
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
        cwd=folder,
        env=outside_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    return BareInstall(venv / "bin", seeded, distributions(venv / "bin" / "python"), folder)


def receiver() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(20)
    return sock


def received_events(sock: socket.socket) -> list[dict[str, object]]:
    datagram = sock.recv(65_535)
    return [orjson.loads(line) for line in datagram.splitlines() if line]


pytestmark = pytest.mark.timeout(420)  # the fixture's venv and pip install count towards the first test


@pytest.mark.slow
def test_pip_installs_numbat_and_orjson_only(bare: BareInstall) -> None:
    assert bare.installed - bare.seeded == {"numbat", "orjson"}


@pytest.mark.slow
def test_no_module_of_an_extra_is_there(bare: BareInstall) -> None:
    code = f"import importlib.util; print([m for m in {EXTRAS_MODULES!r} if importlib.util.find_spec(m)])"
    result = bare.python(code)
    assert (result.returncode, result.stdout.strip()) == (0, "[]"), result.stderr
    assert {"numba", "numpy", "trio", "influxdb_client", "libcloud"} <= set(EXTRAS_MODULES)


@pytest.mark.slow
def test_the_installed_emitter_sends_an_event(bare: BareInstall) -> None:
    with receiver() as sock:
        port = sock.getsockname()[1]
        result = bare.python(
            "import emitter\n"
            "print(emitter.__file__)\n"
            f"e = emitter.Emitter('udp://127.0.0.1:{port}', app='bare')\n"
            "e.metric('installed', 7, where='venv')\n"
            "e.close()\n"
            "print(e.stats().sent)\n"
        )
        assert result.returncode == 0, result.stderr
        where, sent = result.stdout.split()
        assert Path(where).is_relative_to(bare.bin.parent)  # the installed copy, not the checkout
        assert sent == "1"
        [event] = received_events(sock)
    assert (event["name"], event["value"], event["where"]) == ("bare.installed", 7, "venv")


@pytest.mark.slow
def test_the_installed_numbat_emit_sends_a_metric(bare: BareInstall) -> None:
    with receiver() as sock:
        port = sock.getsockname()[1]
        result = bare.run(
            str(bare.bin / "numbat-emit"),
            "--uri",
            f"udp://127.0.0.1:{port}",
            "--app",
            "cron",
            "job.done",
            "3",
            "ok=true",
        )
        assert result.returncode == 0, result.stderr
        [event] = received_events(sock)
    assert (event["name"], event["value"], event["ok"]) == ("cron.job.done", 3, True)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "argv", "line"),
    [
        (
            "numbatd",
            ["--config", "numbatd.toml"],
            "numbatd: the collector is not installed: pip install 'numbat[collector]'",
        ),
        (
            "numbat-logs",
            ["count", "access.log"],
            "numbat-logs: the CDN-log counter is not installed: pip install 'numbat[logs]'",
        ),
        (
            "numbat-run",
            ["--app", "svc", "--", "true"],
            "numbat-run: the process monitor is not installed: pip install 'numbat[run]'",
        ),
    ],
)
def test_a_program_without_its_extra_names_it(bare: BareInstall, script: str, argv: list[str], line: str) -> None:
    result = bare.run(str(bare.bin / script), *argv)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", line + "\n")
    package = {"numbatd": "collector", "numbat-logs": "log_parser", "numbat-run": "monitor"}[script]
    result = bare.run(str(bare.bin / "python"), "-I", "-m", package, *argv)  # python -m, the same
    assert (result.returncode, result.stdout, result.stderr) == (2, "", line + "\n")


# --- the launcher's lists, against the source and pyproject.toml ----------------------


def _normalized(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def third_party_imports(package: str) -> set[str]:
    """Top-level modules that ``package``'s source imports, less the standard library and ours."""
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.partition(".")[0])
    return found - set(sys.stdlib_module_names) - our_modules() - {"__future__"}


def our_modules() -> set[str]:
    """The top-level packages and modules the distribution installs, as pyproject.toml says."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return {pattern.rstrip("*") for pattern in setuptools["packages"]["find"]["include"]} | set(
        setuptools["py-modules"]
    )


def requirement_names(requirements: list[str]) -> set[str]:
    return {_normalized(re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]) for requirement in requirements}


def extra_requirements(extra: str) -> set[str]:
    """The distributions ``numbat[extra]`` installs by name, its own extras unfolded."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = set()
    for requirement in project["optional-dependencies"][extra]:
        if requirement.startswith("numbat["):
            for inner in requirement[len("numbat[") : -1].split(","):
                names |= extra_requirements(inner)
        else:
            names |= requirement_names([requirement])
    return names


def test_the_base_install_is_orjson() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert requirement_names(project["dependencies"]) == {"orjson"}
    assert third_party_imports("emitter") == {"orjson"}


@pytest.mark.parametrize(
    ("package", "extras"),
    [("collector", [COLLECTOR]), ("log_parser", [LOGS, DASK]), ("monitor", [RUN])],
    ids=["collector", "log_parser", "monitor"],
)
def test_each_extra_lists_what_its_program_imports(package: str, extras: list[Extra]) -> None:
    listed = {module for extra in extras for module in extra.modules}
    assert third_party_imports(package) - {"orjson"} == listed - IMPORTED_BY_A_DEPENDENCY


@pytest.mark.parametrize("extra", [COLLECTOR, LOGS, DASK, RUN], ids=lambda extra: extra.name)
def test_pyproject_extra_installs_each_module(extra: Extra) -> None:
    """Each module of the launcher's list comes from a distribution the extra names."""
    providers = importlib.metadata.packages_distributions()
    requirements = extra_requirements(extra.name)
    missing = [m for m in extra.modules if not {_normalized(d) for d in providers.get(m, [])} & requirements]
    assert missing == []


def test_a_missing_extra_is_named_before_the_program_is_imported(capsys: pytest.CaptureFixture[str]) -> None:
    def load_main() -> object:
        raise AssertionError("the program was imported although its extra is missing")

    status = numbat_launcher.launch(
        "numbatd", COLLECTOR, (), load_main, find_spec=lambda name: None if name == "numba" else object()
    )
    assert (status, capsys.readouterr().err) == (2, COLLECTOR.message("numbatd") + "\n")


def test_an_extra_imported_later_is_named_when_its_import_fails(capsys: pytest.CaptureFixture[str]) -> None:
    def main() -> int:
        raise ModuleNotFoundError("No module named 'distributed'", name="distributed")

    status = numbat_launcher.launch("numbat-logs", LOGS, (DASK,), lambda: main, find_spec=lambda name: object())
    assert (status, capsys.readouterr().err) == (2, "numbat-logs: Dask is not installed: pip install 'numbat[dask]'\n")


def test_any_other_missing_module_keeps_its_traceback() -> None:
    def main() -> int:
        raise ModuleNotFoundError("No module named 'log_parser.gone'", name="log_parser.gone")

    with pytest.raises(ModuleNotFoundError, match=r"log_parser\.gone"):
        numbat_launcher.launch("numbat-logs", LOGS, (DASK,), lambda: main, find_spec=lambda name: object())


def test_an_installed_extra_runs_the_program() -> None:
    assert numbat_launcher.launch("numbatd", COLLECTOR, (), lambda: lambda: 0) == 0
