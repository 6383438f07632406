from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from .alert_receivers import Hanging, Receiver, Reply
from .alertmanager import Alertmanager
from .influxd import Influxd, V2Gateway
from .node import HOT_SHOTS, NUMBAT_EMITTER, npm_install
from .numbatd import Numbatd


@pytest.fixture(scope="session")
def node_modules(tmp_path_factory) -> Path:
    """numbat-emitter from the npm registry, installed once per test run."""
    return npm_install(tmp_path_factory.mktemp("npm"), NUMBAT_EMITTER)


@pytest.fixture(scope="session")
def hot_shots(tmp_path_factory) -> Path:
    """hot-shots, the statsd/DogStatsD/Telegraf client for Node, installed once per test run."""
    return npm_install(tmp_path_factory.mktemp("npm-hot-shots"), HOT_SHOTS)


@pytest.fixture
def numbatd(tmp_path) -> Iterator[Callable[..., Numbatd]]:
    """Start numbatd with a TOML config (and a command ``wrapper`` such as prlimit); every
    one started is stopped by PID afterwards."""
    started: list[Numbatd] = []

    def start(config: str, wrapper: Sequence[str] = ()) -> Numbatd:
        daemon = Numbatd(tmp_path, config, wrapper)
        started.append(daemon)
        return daemon.start()

    yield start
    for daemon in started:
        daemon.kill()


@pytest.fixture
def influxd(tmp_path) -> Iterator[Influxd]:
    """A real InfluxDB 1.x with databases v1db and v2db, stopped by PID afterwards."""
    folder = tmp_path / "influxdb"
    folder.mkdir()
    server = Influxd(folder).start()
    server.create_database("v1db")
    server.create_database("v2db")
    yield server
    server.stop()


@pytest.fixture
def v2_gateway(influxd) -> Iterator[V2Gateway]:
    gateway = V2Gateway(influxd)
    yield gateway
    gateway.stop()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    """HTTP servers on 127.0.0.1 that record requests and answer from a script; stopped afterwards."""
    started: list[Receiver] = []

    def start(*script: Reply, then: Reply | None = None, tls=None) -> Receiver:
        receiver = Receiver(script, then or Reply(), tls)
        started.append(receiver)
        return receiver

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def hanging() -> Iterator[Hanging]:
    """A server that accepts connections and never answers."""
    server = Hanging()
    yield server
    server.stop()


@pytest.fixture
def alertmanager(tmp_path, receivers) -> Iterator[Alertmanager]:
    """A real Alertmanager whose receiver is a webhook to ``alertmanager.hook`` (a
    Receiver); stopped by PID afterwards."""
    folder = tmp_path / "alertmanager"
    folder.mkdir()
    server = Alertmanager(folder, receivers()).start()
    yield server
    server.stop()
