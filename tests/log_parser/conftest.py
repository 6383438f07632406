from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from log_parser.backfill import Credentials, parse_source

from .seaweedfs import ACCESS_KEY, SECRET_KEY, SeaweedFS


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory) -> Iterator[SeaweedFS]:
    """One real S3-compatible server for the session (it takes a second or two to start
    and a few to stop), stopped by PID afterwards."""
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs")).start()
    yield server
    server.stop()


@pytest.fixture
def bucket(seaweedfs: SeaweedFS) -> str:
    """A new, empty bucket on the session's server."""
    name = f"logs-{uuid.uuid4().hex[:12]}"
    driver = parse_source(f"s3://{name}/?endpoint={seaweedfs.endpoint}", Credentials(ACCESS_KEY, SECRET_KEY)).driver()
    driver.create_container(name)
    return name
