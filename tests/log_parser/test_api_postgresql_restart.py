"""The API over PostgreSQL keeps answering across a restart of the server: the
connections it kept open between requests are cut by the restart, and each was found
broken by the request that took it (a 500, once a connection) until the store read
again on a new connection when its kept one is broken (_postgresql.py ``_read``)."""

from __future__ import annotations

import datetime as dt
import http.client
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from log_parser.store import open_store

from ..processes import terminate
from ..waiting import wait_for
from .postgres import PostgreSQL
from .test_api_server import answers, free_port

DAY = dt.date(2024, 5, 1)
#: requests at once: enough that the API keeps several connections open (its threads
#: each take one), fewer than it keeps (16)
AT_ONCE = 8


def get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.mark.slow  # a server of its own, restarted, and a serve process: 3 s, 20 s on a loaded machine
def test_a_restart_of_postgresql_under_a_running_api_fails_no_request(tmp_path) -> None:
    server = PostgreSQL(tmp_path).start()  # its own: restarting the session's would cut every test's connections
    api = None
    try:
        location = server.create_database()
        store = open_store(location)
        store.add_live({("lodash", "4.17.21", DAY): 3, ("left-pad", "1.3.0", DAY): 2})
        store.close()
        port = free_port()
        api = subprocess.Popen(
            [sys.executable, "-m", "log_parser", "serve", "--db", location, "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_for(lambda: answers(port) or api.poll() is not None, 30)
        assert api.poll() is None
        paths = [f"/downloads/point/2024-05-01/{name}" for name in ("lodash", "left-pad")] * (AT_ONCE * 2)
        with ThreadPoolExecutor(AT_ONCE) as pool:
            assert set(pool.map(lambda path: get(port, path), paths)) == {200}  # the API keeps connections open

            server.restart()

            after = list(pool.map(lambda path: get(port, path), paths))  # at once: each kept connection taken
        after += [get(port, path) for path in paths]
        assert after == [200] * len(after)
    finally:
        if api is not None:
            terminate(api)
        server.stop()
