"""The dependency rules of the design, read off the source: no import circle inside a
package, configuration that loads no sink, sans-I/O code that loads no I/O framework
(the collector's wire, log_parser's core), an emitter that needs nothing but orjson, and
a collector and a log counter that know nothing of each other.

The import graph is built from the source with ``ast``, every import counted: at the top
of a module, inside a function (a lazy import is still a dependency) and under
``if TYPE_CHECKING:`` (a circle the type checker needs is still a circle in the design).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import emitter.event
from collector import wire

ROOT = Path(__file__).resolve().parents[1]
#: Packages whose modules are checked for circles; add one here to cover it.
PACKAGES = ["collector", "emitter", "jit", "log_parser", "monitor"]
#: Third-party packages that do I/O, or that only some sinks need.
IO_FRAMEWORKS = ["trio", "h11", "hypercorn", "prometheus_client", "urllib3", "influxdb_client", "numpy", "numba"]


def modules_of(package: str) -> dict[str, Path]:
    """Every module of ``package`` under ROOT, by dotted name (a package by its own name)."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The modules of ``known`` that the module ``name`` (at ``path``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from pkg import sub`` imports the module pkg.sub when there is one, else pkg
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            module = target
            while module and module not in known:  # ``import a.b.c`` of a module: a.b.c
                module = module.rpartition(".")[0]
            if module and module != name:
                yield module


def import_graph(package: str) -> dict[str, set[str]]:
    known = modules_of(package)
    return {name: set(imported(name, path, known)) for name, path in known.items()}


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of ``graph``, as the modules around it, or None."""
    state: dict[str, str] = {}  # "open" while its imports are being walked, then "done"
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (circle := visit(target)) is not None:
                return circle
        path.pop()
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (circle := visit(start)) is not None:
            return circle
    return None


def test_the_circle_finder_finds_circles() -> None:
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b", "d"}, "b": set(), "d": {"d2"}, "d2": {"d"}}) == ["d", "d2", "d"]


def test_relative_imports_are_resolved_to_modules() -> None:
    graph = import_graph("collector")
    assert "collector.wire._batch" in graph["collector.wire._numbat"]  # from ._batch import ...
    assert "collector.config" in graph["collector.sinks._base"]  # from ..config import ...
    assert "collector.sinks.influxdb._transcoder" in graph["collector.sinks.influxdb._sink"]  # lazy, in a function


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circle(package: str) -> None:
    circle = find_circle(import_graph(package))
    assert circle is None, " -> ".join(circle or [])


def loaded_by(statement: str) -> list[str]:
    """The modules a fresh interpreter has loaded after ``statement``."""
    script = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.split()


def frameworks(modules: list[str]) -> set[str]:
    return {module.partition(".")[0] for module in modules} & set(IO_FRAMEWORKS)


def test_reading_a_configuration_loads_no_sink_and_no_io_framework() -> None:
    loaded = loaded_by("import collector.config")
    assert not frameworks(loaded)
    assert not [module for module in loaded if module.startswith(("collector.sinks", "collector.listeners"))]


def test_the_wire_is_sans_io() -> None:
    assert not frameworks(loaded_by("import collector.wire"))


#: The aggregation core's compiled statsd scan, and what it alone may import beside the core's own.
COMPILED_SCAN = "collector.aggregate._statsd_scan"
COMPILED_SCAN_MAY_IMPORT = {"numpy", "numba", "jit.tables"}


def test_the_aggregation_core_is_sans_io() -> None:
    """Every module of collector.aggregate but the trio stage (``_stage``) imports the rest
    of the core, the emitter's event, orjson and the standard library's pure parts; nothing
    else, but the compiled statsd scan, which may use numpy, numba and jit's tables too."""
    core = {name: path for name, path in modules_of("collector").items() if name.startswith("collector.aggregate")}
    core.pop("collector.aggregate._stage", None)
    assert set(core) >= {"collector.aggregate._aggregator", "collector.aggregate._sketch"}
    for name, path in core.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                # a relative import stays inside the core (``from ._stage`` is caught by name)
                inside = node.level == 1 and node.module != "_stage"
                targets = ["collector.aggregate"] if inside else [("." * node.level) + (node.module or "")]
            else:
                continue
            for target in targets:
                top = target.partition(".")[0]
                if name == COMPILED_SCAN and (top in COMPILED_SCAN_MAY_IMPORT or target in COMPILED_SCAN_MAY_IMPORT):
                    continue
                assert target not in IO_MODULES, f"{name} imports {target}"
                assert top not in IO_MODULES, f"{name} imports {target}"
                pure = top in sys.stdlib_module_names or top == "orjson" or target in {"emitter.event", *core}
                assert pure, f"{name} imports {target}"


def test_the_alerts_core_is_sans_io() -> None:
    """Every module of collector.alerts but its outputs (``collector.alerts.outputs``, the
    I/O) imports the rest of the core, the emitter's event, orjson and the standard
    library's pure parts; nothing else. The clock, the sockets and the subprocesses are
    the sink's and the outputs'."""
    core = {
        name: path
        for name, path in modules_of("collector").items()
        if name.startswith("collector.alerts") and not name.startswith("collector.alerts.outputs")
    }
    assert set(core) >= {"collector.alerts._engine", "collector.alerts._incidents", "collector.alerts._rules"}
    for name, path in core.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                # a relative import stays inside the core unless it reaches for the outputs
                inside = node.level == 1 and not (node.module or "outputs").startswith("outputs")
                targets = ["collector.alerts"] if inside else [("." * node.level) + (node.module or "")]
            else:
                continue
            for target in targets:
                top = target.partition(".")[0]
                assert target not in IO_MODULES, f"{name} imports {target}"
                assert top not in IO_MODULES, f"{name} imports {target}"
                pure = top in sys.stdlib_module_names or top == "orjson" or target in {"emitter.event", *core}
                assert pure, f"{name} imports {target}"
    assert not frameworks(loaded_by("import collector.alerts"))


def test_the_aggregation_core_loads_numba_only_for_the_scan() -> None:
    """The aggregator, its stage and the listeners load no numba: a daemon without a statsd
    listener that feeds aggregations alone never pays for it (collector.listeners' Intake
    imports the scan when it first needs it)."""
    loaded = loaded_by("import collector.aggregate._stage, collector.listeners, collector.router")
    assert "numba" not in loaded
    assert COMPILED_SCAN not in loaded


def test_the_collector_package_loads_its_surface_only_when_asked() -> None:
    assert not frameworks(loaded_by("import collector"))
    assert "trio" in frameworks(loaded_by("from collector import Daemon"))


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("collector", "log_parser"),
        ("log_parser", "collector"),
        ("emitter", "collector"),
        ("emitter", "log_parser"),
        ("emitter", "jit"),
        ("jit", "collector"),
        ("jit", "log_parser"),
        ("jit", "emitter"),
        ("monitor", "collector"),
        ("monitor", "log_parser"),
        ("monitor", "jit"),
        ("collector", "monitor"),
        ("log_parser", "monitor"),
        ("emitter", "monitor"),
        ("jit", "monitor"),
    ],
)
def test_the_direction_of_dependencies(package: str, forbidden: str) -> None:
    """The collector knows nothing of CDN logs, and the log side talks to the collector
    only over the wire; the emitter imports nothing of either. numbat-run (``monitor``)
    reports through the emitter alone, and nothing imports it."""
    for name, path in modules_of(package).items():
        text = path.read_text()
        assert f"import {forbidden}" not in text, name
        assert f"from {forbidden}" not in text, name


def third_party(package: str) -> dict[str, set[str]]:
    """What each module of ``package`` imports from outside it and outside the standard library."""
    found = {}
    for name, path in modules_of(package).items():
        tops = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                tops |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                tops.add(node.module.partition(".")[0])
        found[name] = {top for top in tops if top not in sys.stdlib_module_names and top != package}
    return found


def test_the_emitter_needs_orjson_alone() -> None:
    """Services install the emitter alone: it imports nothing beyond orjson and the
    standard library."""
    assert {name: tops - {"orjson"} for name, tops in third_party("emitter").items() if tops - {"orjson"}} == {}


#: What log_parser.core may import besides the standard library's pure parts: the
#: codecs and compilers, and (the scanner alone) the choice of numba's cache folder.
CORE_MAY_IMPORT = {"numpy", "numba", "orjson", "zstandard", "log_parser", "jit"}
#: The core's compiled modules, the only ones that import jit: the scanner and the tarball rule on bytes.
COMPILED_CORE = ("._scanner", "._tarball_bytes")
#: The standard library modules that do I/O or run things: the core imports none of them.
IO_MODULES = {"asyncio", "socket", "selectors", "sqlite3", "subprocess", "threading", "multiprocessing",
              "concurrent", "shutil", "tempfile", "io", "signal", "http", "urllib.request", "ssl"}  # fmt: skip


def test_the_log_core_does_no_io() -> None:
    core = {name: path for name, path in modules_of("log_parser").items() if name.startswith("log_parser.core")}
    for name, path in core.items():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                targets = [node.module]
            else:
                continue
            for target in targets:
                top = target.partition(".")[0]
                assert top in sys.stdlib_module_names or top in CORE_MAY_IMPORT, f"{name} imports {target}"
                assert target not in IO_MODULES, f"{name} imports {target}"
                assert top not in IO_MODULES, f"{name} imports {target}"
                assert top != "jit" or name.endswith(COMPILED_CORE), f"{name} imports {target}"
        calls = {
            node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert not calls & {"open", "print", "input"}, f"{name} calls {calls & {'open', 'print', 'input'}}"
    assert not frameworks(loaded_by("import log_parser.core")) - {"numpy"}


def test_numbat_event_is_the_emitters() -> None:
    assert wire.Event is emitter.event.Event


def test_the_monitor_core_does_no_io() -> None:
    """numbat-run's core imports the standard library's pure parts and orjson (to measure
    a line as JSON): no psutil, no subprocess, no signal, no thread."""
    core = {name: path for name, path in modules_of("monitor").items() if name.startswith("monitor.core")}
    assert set(core) >= {"monitor.core", "monitor.core._events", "monitor.core._start", "monitor.core._lines"}
    for name, path in core.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                targets = [node.module]
            else:
                continue
            for target in targets:
                top = target.partition(".")[0]
                assert top in sys.stdlib_module_names or top == "orjson", f"{name} imports {target}"
                assert target not in IO_MODULES, f"{name} imports {target}"
                assert top not in IO_MODULES | {"os"}, f"{name} imports {target}"


def test_numbat_run_loads_what_it_needs_and_no_more() -> None:
    """numbat-run is held to 20 MB: it loads no I/O framework, none of the collector's
    or the log counter's, and not http.client or ssl (6 MB), which the emitter loads only
    for an HTTP destination. Importing the package alone loads not even psutil."""
    loaded = loaded_by("import monitor.cli")
    assert not frameworks(loaded)
    assert not {"ssl", "http.client", "collector", "log_parser", "jit", "asyncio"} & set(loaded)
    assert "psutil" in loaded
    assert "psutil" not in loaded_by("import monitor")
