"""The API as browsers and raw clients meet it: a real ``numbat-logs serve`` process on
127.0.0.1 (hypercorn on trio), its CORS headers and its errors, all JSON, down to a
request line with raw non-ASCII bytes that never reaches the app."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from log_parser import Store, open_store

from ..processes import terminate
from ..waiting import wait_for

DAY = dt.date(2024, 5, 1)
ORIGINS = ("https://a.example", "https://b.example:8443")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def start_server(db: Path, *options: str, today: dt.date | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """``numbat-logs serve`` on a free port; with ``today``, its today is that day
    (serve_on_day.py), not the wall clock's."""
    port = free_port()
    program = ["-m", "log_parser"] if today is None else [str(Path(__file__).with_name("serve_on_day.py")), str(today)]
    command = [sys.executable, *program, "serve", "--db", str(db), "--listen", f"127.0.0.1:{port}", *options]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_for(lambda: answers(port) or server.poll() is not None, 30) or server.poll() is not None:
        terminate(server)
        pytest.fail(f"numbat-logs serve did not start (exit {server.poll()})")
    return server, port


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("api") / "d.sqlite"
    store = Store(path)
    store.add_live({("lodash", "4.17.21", DAY): 3, ("café", "1.0.0", DAY): 1})
    store.close()
    return path


@pytest.fixture(scope="module")
def port(db: Path) -> Iterator[int]:
    options = [arg for origin in ORIGINS for arg in ("--cors-origin", origin)]
    server, port = start_server(db, *options)
    try:
        yield port
    finally:
        terminate(server)


def get(port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def raw_exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are and read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(request)
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}, body


def test_allowed_origins_can_read_answers_and_errors(port: int) -> None:
    for origin in ORIGINS:
        answer = get(port, "/downloads/point/2024-05-01/lodash", headers={"Origin": origin})
        assert (answer.status, answer.getheader("Access-Control-Allow-Origin")) == (200, origin)
        assert answer.getheader("Vary") == "Origin"
    refused = get(port, "/downloads/point/2024-05-01/nope", headers={"Origin": ORIGINS[0]})
    assert (refused.status, refused.getheader("Access-Control-Allow-Origin")) == (404, ORIGINS[0])
    other = get(port, "/downloads/point/2024-05-01/lodash", headers={"Origin": "https://evil.example"})
    assert other.status == 200
    assert other.getheader("Access-Control-Allow-Origin") is None


def test_preflight_requests(port: int) -> None:
    asked = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-client"}
    preflight = get(port, "/downloads/range/last-week/lodash", "OPTIONS", {"Origin": ORIGINS[1], **asked})
    assert preflight.status == 204
    assert preflight.getheader("Access-Control-Allow-Origin") == ORIGINS[1]
    assert preflight.getheader("Access-Control-Allow-Methods") == "GET, HEAD, OPTIONS"
    assert preflight.getheader("Access-Control-Allow-Headers") == "x-client"
    status, headers, body = raw_exchange(
        port,
        b"OPTIONS /downloads/point/last-day HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n"
        b"Access-Control-Request-Method: GET\r\nConnection: close\r\n\r\n",
    )
    assert (status, headers["content-type"]) == (403, "application/json")
    assert json.loads(body) == {"error": "origin https://evil.example not allowed"}


@pytest.mark.parametrize(
    ("request_bytes", "status", "error"),
    [
        (b"GET /downloads/point/2024-05-01/caf\xc3\xa9 HTTP/1.1\r\n", 400, "bad request"),  # raw UTF-8
        (b"GET /downloads/point/2024-05-01/\xff\xfe HTTP/1.1\r\n", 400, "bad request"),  # not even UTF-8
        (b"GET /downloads/\x80 HTTP/1.1\r\n", 400, "bad request"),
        (b"NOT AN HTTP REQUEST LINE\r\n", 400, "bad request"),
        (
            b"GET /downloads/point/last-day HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n",
            431,
            "request header fields too large",
        ),
        (b"GET /nope HTTP/1.1\r\n", 404, "not found"),
        (b"POST /downloads/point/last-day HTTP/1.1\r\nContent-Length: 0\r\n", 405, "method not allowed"),
        (b"GET /downloads/point/2026-W01-1/lodash HTTP/1.1\r\n", 400, "invalid date"),
        (b"GET /downloads/point/2024-05-01/nobody%C3%A9 HTTP/1.1\r\n", 404, "package nobody\u00e9 not found"),
    ],
)
def test_every_error_is_json_with_its_status(port: int, request_bytes: bytes, status: int, error: str) -> None:
    answer_status, headers, body = raw_exchange(port, request_bytes + b"Host: x\r\nConnection: close\r\n\r\n")
    assert answer_status == status
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": error}


def test_a_percent_encoded_non_ascii_name_is_a_name(port: int) -> None:
    status, _, body = raw_exchange(
        port, b"GET /downloads/point/2024-05-01/caf%C3%A9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert status == 200
    assert json.loads(body)["package"] == "caf\u00e9"


def test_any_origin_by_default(db: Path) -> None:
    server, port = start_server(db)
    try:
        answer = get(port, "/downloads/point/2024-05-01/lodash", headers={"Origin": "https://anyone.example"})
        assert (answer.status, answer.getheader("Access-Control-Allow-Origin")) == (200, "*")
    finally:
        terminate(server)


def test_a_cors_origin_that_is_no_origin_is_refused_at_start(db: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "log_parser", "serve", "--db", str(db), "--cors-origin", "a.example/path"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "not an origin" in result.stderr


def test_conditional_requests_page_and_badge_through_the_real_server(port: int) -> None:
    request = b"GET /downloads/point/2024-05-01/lodash HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    status, headers, body = raw_exchange(port, request + b"\r\n")
    assert (status, json.loads(body)["downloads"]) == (200, 3)
    etag = headers["etag"].encode()
    status, again, body = raw_exchange(port, request + b"If-None-Match: " + etag + b"\r\n\r\n")
    assert (status, body) == (304, b"")
    assert (again["etag"], again["cache-control"]) == (headers["etag"], headers["cache-control"])
    page = get(port, "/?package=caf%C3%A9&start=2024-05-01&end=2024-05-01")
    assert (page.status, page.getheader("Content-Type")) == (200, "text/html; charset=utf-8")
    badge = get(port, "/badge/lodash/2024-05-01.svg")
    assert (badge.status, badge.getheader("Content-Type")) == (200, "image/svg+xml")


def test_serve_answers_from_a_postgresql_store(postgresql) -> None:
    """``--db postgresql://...``: the same answers from a server database, each request on
    a connection the process keeps open between requests."""
    location = postgresql.create_database()
    store = open_store(location)
    store.add_live({("lodash", "4.17.21", DAY): 3, ("lodash", "4.17.20", DAY): 2, ("café", "1.0.0", DAY): 1})
    store.close()
    server, port = start_server(location)
    try:
        for _ in range(3):  # the same answer on connections kept between requests
            response = get(port, "/downloads/point/2024-05-01/lodash")
            assert response.status == 200
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/versions/lodash/2024-05-01")
        assert json.loads(connection.getresponse().read()) == {
            "package": "lodash",
            "downloads": {"4.17.21": 3, "4.17.20": 2},
        }
        connection.request("GET", "/downloads/range/2024-04-30:2024-05-01/lodash,caf%C3%A9,nope")
        assert json.loads(connection.getresponse().read()) == {
            "lodash": {"start": "2024-04-30", "end": "2024-05-01", "package": "lodash", "downloads": [
                {"day": "2024-04-30", "downloads": 0}, {"day": "2024-05-01", "downloads": 5}]},
            "café": {"start": "2024-04-30", "end": "2024-05-01", "package": "café", "downloads": [
                {"day": "2024-04-30", "downloads": 0}, {"day": "2024-05-01", "downloads": 1}]},
            "nope": None,
        }  # fmt: skip
        connection.close()
        assert get(port, "/downloads/point/2024-05-01/nope").status == 404

        # the API's extras and the page, on the queries each backend writes for itself
        def body(path: str) -> str:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path)
            response = connection.getresponse()
            assert response.status == 200, path
            text = response.read().decode()
            connection.close()
            return text

        all_time = json.loads(body("/downloads/point/all-time/lodash"))
        assert (all_time["start"], all_time["downloads"]) == ("2024-05-01", 5)
        search = body("/?package=lod&start=2024-05-01&end=2024-05-01")
        assert "?package=lodash" in search  # the suggestion: a known name that starts so
        page = body("/?package=lodash&start=2024-05-01&end=2024-05-01")
        assert page.index("4.17.21") < page.index("4.17.20")  # the split by version, most first
    finally:
        terminate(server)


def test_serve_refuses_a_store_it_cannot_use(postgresql) -> None:
    unreachable = subprocess.run(
        [sys.executable, "-m", "log_parser", "serve", "--db", postgresql.url("no_such_database")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert unreachable.returncode == 2
    assert "no_such_database" in unreachable.stderr
