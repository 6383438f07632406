from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from log_parser.backfill import Credentials, parse_source
from log_parser.store._postgresql import close_idle_readers

from .postgres import PostgreSQL
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


@pytest.fixture(scope="session")
def postgresql(tmp_path_factory) -> Iterator[PostgreSQL]:
    """One real PostgreSQL for the session (it starts in about a second), stopped by
    PID afterwards; each test that needs one makes its own database in it."""
    server = PostgreSQL(tmp_path_factory.mktemp("postgresql")).start()
    yield server
    close_idle_readers()
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request, tmp_path) -> Iterator[str]:
    """Where a new, empty store is, in each backend: a SQLite file's path, or the URL of
    a new database on the session's PostgreSQL (the readers the test left open are closed
    after it)."""
    if request.param == "sqlite":
        yield str(tmp_path / "downloads.sqlite")
        return
    server: PostgreSQL = request.getfixturevalue("postgresql")
    yield server.create_database()
    close_idle_readers()
