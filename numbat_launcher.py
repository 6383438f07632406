"""The console scripts ``numbatd``, ``numbat-logs``, ``numbat-run``: each runs its program once its extra is there.

``pip install numbat`` is the emitter alone; numbatd comes with ``numbat[collector]``,
numbat-logs with ``numbat[logs]``, its ``backfill --scheduler`` with ``numbat[dask]``,
numbat-run with ``numbat[run]``. The scripts are installed by every install, so without their extra each would die in a
traceback naming whichever import failed first. Here, before the program is imported,
every top-level module of its extra is looked up with ``importlib.util.find_spec`` (which
finds without importing: a few milliseconds); one missing gives one line on stderr naming
the extra to install, and exit status 2, the status of a usage error. A module of an
extra that the program imports only later (Dask, for ``--scheduler``) is caught as the
``ModuleNotFoundError`` it raises and answered the same way; any other missing module is
a bug, and keeps its traceback.

This module uses only the standard library and lives outside the packages, so
that it imports nothing that an extra brings (the packages' ``__init__`` modules are
theirs to grow).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.machinery import ModuleSpec


@dataclass(frozen=True, slots=True)
class Extra:
    """An extra of the numbat distribution, as the program that needs it sees it."""

    name: str  #: as in ``pip install 'numbat[name]'``
    what: str  #: what is missing without it, for the message: "the collector"
    modules: tuple[str, ...]  #: the top-level modules it installs that the program imports

    def missing(self, find_spec: Callable[[str], ModuleSpec | None] = importlib.util.find_spec) -> list[str]:
        return [module for module in self.modules if find_spec(module) is None]

    def message(self, program: str) -> str:
        return f"{program}: {self.what} is not installed: pip install 'numbat[{self.name}]'"


#: Each extra's modules are the program's third-party imports (tests/test_distribution.py
#: checks them against the imports in the source and against pyproject.toml's extras).
COLLECTOR = Extra(
    "collector",
    "the collector",
    ("trio", "prometheus_client", "hypercorn", "h11", "influxdb_client", "urllib3", "numba", "numpy", "cramjam"),
)
LOGS = Extra(
    "logs",
    "the CDN-log counter",
    ("trio", "hypercorn", "h11", "starlette", "libcloud", "fasteners", "numba", "numpy", "zstandard", "psycopg"),
)
DASK = Extra("dask", "Dask", ("distributed",))
RUN = Extra("run", "the process monitor", ("psutil",))


def launch(
    program: str,
    needed: Extra,
    later: Sequence[Extra],
    load_main: Callable[[], Callable[[], int]],
    find_spec: Callable[[str], ModuleSpec | None] = importlib.util.find_spec,
) -> int:
    """Run the ``main`` that ``load_main`` imports, once ``needed`` is installed; ``later``
    are extras the program imports only for some of its options."""
    if needed.missing(find_spec):
        print(needed.message(program), file=sys.stderr)
        return 2
    try:
        return load_main()()
    except ModuleNotFoundError as error:
        top_level = (error.name or "").partition(".")[0]
        for extra in (needed, *later):
            if top_level in extra.modules:
                print(extra.message(program), file=sys.stderr)
                return 2
        raise


def _collector_main() -> Callable[[], int]:
    from collector.cli import main  # noqa: PLC0415 - only once the collector's extra is known to be there

    return main


def _log_parser_main() -> Callable[[], int]:
    from log_parser.cli import main  # noqa: PLC0415 - only once the log counter's extra is known to be there

    return main


def _monitor_main() -> Callable[[], int]:
    from monitor.cli import main  # noqa: PLC0415 - only once the process monitor's extra is known to be there

    return main


def numbatd() -> int:
    return launch("numbatd", COLLECTOR, (), _collector_main)


def numbat_logs() -> int:
    return launch("numbat-logs", LOGS, (DASK,), _log_parser_main)


def numbat_run() -> int:
    return launch("numbat-run", RUN, (), _monitor_main)
