from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import emitter
from emitter import Emitter

from .receivers import DatagramReceiver, HttpReceiver, StreamReceiver

# Short reconnect delays keep the tests quick; the logic under test is the same.
FAST = {"backoff_base": 0.01, "backoff_cap": 0.1, "connect_timeout": 1.0, "send_timeout": 2.0}


@pytest.fixture
def tcp_receiver() -> Iterator[StreamReceiver]:
    receiver = StreamReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def unix_receiver(tmp_path) -> Iterator[StreamReceiver]:
    receiver = StreamReceiver(socket.AF_UNIX, str(tmp_path / "numbat.sock")).start()
    yield receiver
    receiver.stop()


@pytest.fixture
def udp_receiver() -> Iterator[DatagramReceiver]:
    receiver = DatagramReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def make_emitter() -> Iterator[Callable[..., Emitter]]:
    """Build emitters with fast reconnects; every one is closed after the test."""
    made: list[Emitter] = []

    def make(uri: str, app: str = "testapp", **kwargs: Any) -> Emitter:
        made.append(Emitter(uri, app=app, **{**FAST, **kwargs}))
        return made[-1]

    yield make
    for e in made:
        e.close(timeout=1)
    emitter.set_global(None)
