"""log_parser's declared surface, and the rules of its layout.

Each package's ``__all__`` is written out here, so that a change to what users may import
is a visible decision (as trio's test_exports.py does); everything else is internal, in
modules with a leading underscore. The layout's rules: ``log_parser.core`` does no I/O
(it imports no I/O framework, no database, no network, no process or thread machinery,
and opens no file), and no module of log_parser imports another in a circle.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import log_parser

PACKAGE = Path(log_parser.__file__).parent

SURFACES = {
    "log_parser": [
        "ParseError", "Request", "Store", "Tally", "counter_for", "tally_file", "tally_stream", "to_day_counts"
    ],
    "log_parser.core": [
        "PARSERS", "FormatCounter", "LineParser", "ParseError", "Request", "Tally", "counter_for",
        "detect_format", "is_download", "new_parser", "parse_tarball_path", "warm_for"
    ],
    "log_parser.core.formats": [
        "NOTHING_TO_TELL", "PARSERS", "CloudFrontParser", "CombinedParser", "FastlyParser", "JsonLinesParser",
        "LineParser", "detect_format", "new_parser", "parse_field_mapping"
    ],
    "log_parser.live": [
        "FileFollower", "LineHandler", "LineInput", "ListenerLimits", "Live", "LiveOptions", "follow_file",
        "listen_syslog", "parse_syslog_url", "read_stdin"
    ],
    "log_parser.backfill": [
        "Backfill", "Credentials", "Executor", "InProcess", "LocalPool", "NoProgress", "ObjectInfo",
        "ObjectResult", "Plan", "ProgressDisplay", "Selection", "Source", "SourceError", "Summary", "Task",
        "TerminalProgress", "interrupt", "load_credentials", "parse_source", "plan", "process_object"
    ],
}  # fmt: skip

#: What log_parser.core may import besides its own modules: the standard library's pure
#: parts, the codecs and compilers, and the choice of numba's cache folder.
CORE_MAY_IMPORT = {
    "__future__", "abc", "bz2", "collections", "contextlib", "dataclasses", "datetime", "functools", "logging",
    "lzma", "math", "re", "struct", "types", "typing", "urllib.parse", "zlib",
    "numpy", "numba", "orjson", "zstandard",
}  # fmt: skip
#: The scanner's one step beyond bytes in, offsets out: numba's cache folder, chosen at import.
SCANNER_MAY_IMPORT = {"os", "pathlib", "emitter.compiled_cache"}


@pytest.mark.parametrize("package", sorted(SURFACES))
def test_each_package_declares_its_surface(package) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(SURFACES[package])
    for name in module.__all__:
        assert hasattr(module, name), name


def test_internal_modules_have_a_leading_underscore() -> None:
    """Every module of a package is internal but the subpackages, the command line and
    ``__main__``: users import what the packages' ``__all__`` name."""
    public = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if not path.name.startswith("_") and "_commands" not in path.parts
    }
    assert public == {"cli.py"}


def modules() -> dict[str, Path]:
    """Every module of log_parser by its dotted name (a package by its own name)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["log_parser", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(path: Path, name: str, *, module_level: bool) -> list[str]:
    """The modules ``path`` (the module ``name``) imports, relative ones resolved; with
    ``module_level``, only those imported when it is (not inside functions, not for type
    checking)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = _module_level(tree.body) if module_level else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append(base)
            found += [f"{base}.{alias.name}" for alias in node.names]  # ``from . import _bulk`` is a module
    return found


def _module_level(body: list[ast.stmt]) -> list[ast.stmt]:
    nodes: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.If | ast.Try | ast.With):
            nodes += _module_level([*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", [])])
        elif isinstance(node, ast.Import | ast.ImportFrom):
            nodes.append(node)
    return nodes


def test_the_core_does_no_io() -> None:
    core = {name: path for name, path in modules().items() if name.startswith("log_parser.core")}
    for name, path in core.items():
        allowed = CORE_MAY_IMPORT | (SCANNER_MAY_IMPORT if name == "log_parser.core._scanner" else set())
        for imported in imports(path, name, module_level=False):
            if imported.startswith("log_parser."):
                assert imported.startswith("log_parser.core"), f"{name} imports {imported}, outside the core"
            else:
                assert any(imported == ok or imported.startswith(ok + ".") for ok in allowed), (
                    f"{name} imports {imported}"
                )
        calls = {node.func.id for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Call)
                 and isinstance(node.func, ast.Name)}  # fmt: skip
        assert not calls & {"open", "print", "input"}, f"{name} calls {calls & {'open', 'print', 'input'}}"


def test_no_module_imports_another_in_a_circle() -> None:
    known = modules()
    graph = {
        name: {
            imported for imported in imports(path, name, module_level=True) if imported in known and imported != name
        }
        for name, path in known.items()
    }
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            pytest.fail("import circle: " + " -> ".join([*trail[trail.index(name) :], name]))
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
