"""A real InfluxDB (Debian's influxdb package, 1.6) on 127.0.0.1, stopped by its PID.

InfluxDB 1.6 has only the v1 API (/write, /query). For the v2 path, ``V2Gateway`` maps
``/api/v2/write`` onto ``/write`` as InfluxDB 1.8+ does natively, so that
influxdb-client's real requests land in the real server.
"""

from __future__ import annotations

import http.client
import http.server
import shutil
import subprocess
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import orjson

from ..processes import terminate
from ..waiting import wait_for
from .numbatd import free_port


class Influxd:
    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("influxd")
        if binary is None:
            raise RuntimeError("influxd is not installed; ./run-tests installs Debian's influxdb package")
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.config = workdir / "influxdb.conf"
        self.config.write_text(
            f"""
reporting-disabled = true
bind-address = "127.0.0.1:{free_port()}"
[meta]
  dir = "{workdir}/meta"
[data]
  dir = "{workdir}/data"
  wal-dir = "{workdir}/wal"
  query-log-enabled = false
[retention]
  enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "error"
"""
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Influxd:
        with open(self.workdir / "influxd.log", "ab") as log:
            self.process = subprocess.Popen([self.binary, "run", "-config", str(self.config)], stdout=log, stderr=log)
        if not wait_for(self.ping, 30):
            raise RuntimeError("influxd did not answer /ping")
        return self

    def stop(self) -> None:
        terminate(self.process)
        self.process = None

    def ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:
                return response.status == 204
        except OSError:
            return False

    def query(self, q: str, db: str = "") -> list[dict]:
        """InfluxQL; the series of the first statement, times in ms."""
        params = urllib.parse.urlencode({"q": q, "db": db, "epoch": "ms"})
        request = urllib.request.Request(f"{self.url}/query", data=params.encode(), method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            result = orjson.loads(response.read())["results"][0]
        if "error" in result:
            raise RuntimeError(result["error"])
        return result.get("series", [])

    def points(self, measurement: str, db: str) -> list[dict]:
        """Every point of a measurement as a dict of its columns."""
        rows = []
        for series in self.query(f'SELECT * FROM "{measurement}"', db):
            rows += [dict(zip(series["columns"], values, strict=True)) for values in series["values"]]
        return rows

    def count(self, measurement: str, db: str) -> int:
        series = self.query(f'SELECT count("value") FROM "{measurement}"', db)
        return int(series[0]["values"][0][1]) if series else 0

    def create_database(self, name: str) -> None:
        self.query(f'CREATE DATABASE "{name}"')


class V2Gateway:
    """Test-only: /api/v2/write?bucket=B&precision=P -> /write?db=B&precision=P, as 1.8+
    serves natively; 503 while the server behind it is down."""

    def __init__(self, influxd: Influxd) -> None:
        gateway = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(parts.query)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if parts.path != "/api/v2/write":
                    return self._answer(404, b'{"code":"not found"}')
                precision = {"ns": "ns", "us": "u", "ms": "ms", "s": "s"}[query.get("precision", ["ns"])[0]]
                target = f"/write?{urllib.parse.urlencode({'db': query['bucket'][0], 'precision': precision})}"
                headers = {"Content-Type": "text/plain"}
                if self.headers.get("Content-Encoding"):
                    headers["Content-Encoding"] = self.headers["Content-Encoding"]
                try:
                    upstream = http.client.HTTPConnection("127.0.0.1", influxd.port, timeout=30)
                    upstream.request("POST", target, body=body, headers=headers)
                    response = upstream.getresponse()
                    self._answer(response.status, response.read())
                    upstream.close()
                except OSError:
                    self._answer(503, b'{"code":"unavailable","message":"influxd is down"}')
                gateway.requests += 1

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.requests = 0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
