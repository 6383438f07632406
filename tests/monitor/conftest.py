from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..collector.numbatd import Numbatd
from ..emitter.receivers import DatagramReceiver


@pytest.fixture
def collector() -> Iterator[DatagramReceiver]:
    """A UDP socket on 127.0.0.1 that keeps what numbat-run sends."""
    receiver = DatagramReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def numbatd(tmp_path: Path) -> Iterator[Callable[[str], Numbatd]]:
    """The real numbatd with a TOML config, stopped by PID afterwards (as tests/collector's)."""
    started: list[Numbatd] = []

    def start(config: str) -> Numbatd:
        daemon = Numbatd(tmp_path, config)
        started.append(daemon)
        return daemon.start()

    yield start
    for daemon in started:
        daemon.kill()
