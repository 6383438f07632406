"""numbat-logs as a command: count gzipped and plain logs into the store, serve the API."""

from __future__ import annotations

import gzip
import json
import signal
import socket
import subprocess
import sys
import urllib.request

from ..waiting import wait_for

LINES = [
    '203.0.113.9 - - [01/May/2024:12:00:07 +0000] "GET /lodash/-/lodash-4.17.21.tgz HTTP/1.1" 200 318961 "-" "npm"',
    '203.0.113.9 - - [01/May/2024:12:01:07 +0000] "GET /lodash/-/lodash-4.17.21.tgz HTTP/1.1" 200 318961 "-" "npm"',
    '203.0.113.9 - - [01/May/2024:12:02:07 +0000] "GET /lodash HTTP/1.1" 200 1000 "-" "npm"',
    "this line is garbage",
]


def numbat_logs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "log_parser", *args], capture_output=True, text=True, timeout=60)


def test_count_then_serve(tmp_path) -> None:
    plain, zipped, db = tmp_path / "a.log", tmp_path / "b.log.gz", tmp_path / "d.sqlite"
    plain.write_text("\n".join(LINES) + "\n")
    zipped.write_bytes(gzip.compress(("\n".join(LINES[:2]) + "\n").encode()))
    rejects = tmp_path / "rejects.txt"
    result = numbat_logs("count", str(plain), str(zipped), "--db", str(db), "--rejects", str(rejects))
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert (first["requests"], first["downloads"], first["rejected"]) == (
        3,
        2,
        {"not a combined or common log line": 1},
    )
    assert first["bytes_served"] == 2 * 318961 + 1000
    assert second["downloads"] == 2
    assert rejects.read_text() == "not a combined or common log line\tthis line is garbage\n"
    assert numbat_logs("count", str(tmp_path / "missing.log"), "--db", str(db)).returncode == 1

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "log_parser", "serve", "--db", str(db), "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/downloads/point/2024-05-01/lodash"

    def answered() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except OSError:
            return False

    try:
        assert wait_for(answered, 20)
        with urllib.request.urlopen(url, timeout=5) as response:
            assert json.loads(response.read()) == {
                "downloads": 4,
                "start": "2024-05-01",
                "end": "2024-05-01",
                "package": "lodash",
            }
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(20) == 0


def test_count_gives_the_same_summary_through_the_bulk_counter(tmp_path) -> None:
    log = tmp_path / "a.log"
    log.write_text("\n".join(LINES * 50) + "\n")
    bulk = numbat_logs("count", str(log), "--db", str(tmp_path / "bulk.sqlite"))
    by_line = numbat_logs("count", str(log), "--db", str(tmp_path / "lines.sqlite"), "--rejects", str(tmp_path / "r"))
    assert bulk.returncode == by_line.returncode == 0
    summary = json.loads(bulk.stdout)
    assert summary == json.loads(by_line.stdout)
    assert (summary["downloads"], summary["requests"]) == (100, 150)
