from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .node import NUMBAT_EMITTER, npm_install
from .numbatd import Numbatd


@pytest.fixture(scope="session")
def node_modules(tmp_path_factory) -> Path:
    """numbat-emitter from the npm registry, installed once per test run."""
    return npm_install(tmp_path_factory.mktemp("npm"), NUMBAT_EMITTER)


@pytest.fixture
def numbatd(tmp_path) -> Iterator[Callable[[str], Numbatd]]:
    """Start numbatd with a TOML config; every one started is stopped by PID afterwards."""
    started: list[Numbatd] = []

    def start(config: str) -> Numbatd:
        daemon = Numbatd(tmp_path, config)
        started.append(daemon)
        return daemon.start()

    yield start
    for daemon in started:
        daemon.kill()
