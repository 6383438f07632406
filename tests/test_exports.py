"""Each package's declared surface, written out here so that changing it is a visible decision.

As trio's test_exports.py does: what users may import from a package is its ``__all__``,
and these tests hold it to a literal list; every name in it exists; any other public
name the package shows is a submodule, and the public submodules (no leading
underscore) are listed too, so a new one is a decision as well. Everything else is
internal, by a leading underscore, as in h11 and trio. A package joins by adding a row
to SURFACES.
"""

from __future__ import annotations

import importlib
import pkgutil
import types
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Surface:
    names: list[str]  #: the package's ``__all__``, sorted
    public_modules: list[str]  #: its submodules and subpackages without a leading underscore, sorted


# Written several names a line, not the package's one a line: the same block twice would
# read as a repeat (the duplicates command), and the point is the list, not its layout.
# fmt: off
EMITTER = [
    "Destination", "Emitter", "EmitterSettings", "EmitterStats", "Event", "EventBuilder", "InvalidURI", "Timer",
    "get_global", "metric", "parse_uri", "set_global", "timer", "to_statsd",
]
# fmt: on

SURFACES = {
    "emitter": Surface(
        names=EMITTER,
        # event: the numbat event; backoff and compiled_cache: used by numbatd and numbat-logs;
        # cli: numbat-emit
        public_modules=["backoff", "cli", "compiled_cache", "event"],
    ),
}


@pytest.mark.parametrize("package_name", sorted(SURFACES))
def test_all_is_the_declared_surface(package_name: str) -> None:
    package = importlib.import_module(package_name)
    assert sorted(package.__all__) == SURFACES[package_name].names


@pytest.mark.parametrize("package_name", sorted(SURFACES))
def test_every_name_in_all_exists(package_name: str) -> None:
    package = importlib.import_module(package_name)
    assert [name for name in package.__all__ if not hasattr(package, name)] == []


@pytest.mark.parametrize("package_name", sorted(SURFACES))
def test_other_public_names_are_submodules(package_name: str) -> None:
    package = importlib.import_module(package_name)
    others = [name for name in dir(package) if not name.startswith("_") and name not in package.__all__]
    assert [name for name in others if not isinstance(getattr(package, name), types.ModuleType)] == []


@pytest.mark.parametrize("package_name", sorted(SURFACES))
def test_public_submodules_are_the_declared_ones(package_name: str) -> None:
    package = importlib.import_module(package_name)
    found = sorted(module.name for module in pkgutil.iter_modules(package.__path__) if not module.name.startswith("_"))
    assert found == SURFACES[package_name].public_modules
