from __future__ import annotations

from collections.abc import Iterator

import pytest

from .seaweedfs import SeaweedFS


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory) -> Iterator[SeaweedFS]:
    """One real S3-compatible server for the session (it takes a second or two to start
    and a few to stop), stopped by PID afterwards."""
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs")).start()
    yield server
    server.stop()
