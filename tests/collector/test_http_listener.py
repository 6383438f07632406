"""The HTTP listener: NDJSON POSTs and InfluxDB's write endpoints, with their errors."""

from __future__ import annotations

import gzip
import http.client

import orjson

from .numbatd import free_port, wait_for_lines


def post(port: int, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_http_endpoints(numbatd, tmp_path) -> None:
    port = free_port()
    out = tmp_path / "events.jsonl"
    daemon = numbatd(
        f"""
[[listeners]]
url = "http://127.0.0.1:{port}"
name = "http"
limits = {{ max_body_bytes = 10000 }}
[[sinks]]
type = "jsonl"
path = "{out}"
"""
    )
    assert post(port, "/", b'{"name":"a","value":1}\n{"name":"b","value":2}\n')[0] == 204
    line_protocol = gzip.compress(b"cpu,host=h1 usage=0.5,value=3 1700000000\n")
    status, _ = post(port, "/api/v2/write?org=o&bucket=b&precision=s", line_protocol, {"Content-Encoding": "gzip"})
    assert status == 204
    status, body = post(port, "/write?db=x", b"good value=1\nbad line\nalso value=2\n")
    assert status == 400
    assert b"1 line(s) refused, 2 event(s) kept; first: not line protocol" in orjson.loads(body)["error"].encode()
    status, body = post(port, "/api/v2/write", b"x value=1", {})
    assert status == 204
    status, body = post(port, "/api/v2/write?precision=fortnight", b"x value=1")
    assert (status, orjson.loads(body)["code"]) == (400, "invalid")
    assert post(port, "/", b"x" * 20_000)[0] == 413
    assert post(port, "/write", gzip.compress(b"y" * 50_000), {"Content-Encoding": "gzip"})[0] == 413
    assert post(port, "/write", b"not gzip at all", {"Content-Encoding": "gzip"})[0] == 400
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/ping")
    response = connection.getresponse()
    assert (response.status, response.getheader("X-Influxdb-Version")) == (204, "numbatd")
    connection.close()

    events = wait_for_lines(out, 7)
    by_name = {e["name"]: e for e in events}
    assert sorted(by_name) == ["a", "also", "b", "cpu", "cpu.usage", "good", "x"]
    assert by_name["cpu"] == {"name": "cpu", "value": 3.0, "time": 1_700_000_000_000, "host": "h1"}
    assert daemon.metric("numbat_listener_http_requests_total", listener="http", status="413") == 2
    assert daemon.metric("numbat_listener_decoded_events_total", listener="http", format="influx") == 5
    assert daemon.stop() == 0
