"""numbat-logs as a command: count plain, compressed and damaged compressed logs into the
store, serve the API."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import json
import lzma
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
import zlib
from pathlib import Path

import pytest
import zstandard

from log_parser import Store
from log_parser.core._counter import COMPILE_AFTER

from ..waiting import wait_for

LINES = [
    '203.0.113.9 - - [01/May/2024:12:00:07 +0000] "GET /lodash/-/lodash-4.17.21.tgz HTTP/1.1" 200 318961 "-" "npm"',
    '203.0.113.9 - - [01/May/2024:12:01:07 +0000] "GET /lodash/-/lodash-4.17.21.tgz HTTP/1.1" 200 318961 "-" "npm"',
    '203.0.113.9 - - [01/May/2024:12:02:07 +0000] "GET /lodash HTTP/1.1" 200 1000 "-" "npm"',
    "this line is garbage",
]


def numbat_logs(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "log_parser", *args], input=stdin, capture_output=True, text=True, timeout=60
    )


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
    """A log past COMPILE_AFTER, so that the compiled scanner counts most of it."""
    log = tmp_path / "a.log"
    copies = COMPILE_AFTER // len("\n".join(LINES)) + 1
    log.write_text("\n".join(LINES * copies) + "\n")
    bulk = numbat_logs("count", str(log), "--db", str(tmp_path / "bulk.sqlite"))
    by_line = numbat_logs("count", str(log), "--db", str(tmp_path / "lines.sqlite"), "--rejects", str(tmp_path / "r"))
    assert bulk.returncode == by_line.returncode == 0
    summary = json.loads(bulk.stdout)
    assert summary == json.loads(by_line.stdout)
    assert (summary["downloads"], summary["requests"]) == (2 * copies, 3 * copies)


MAY1, MAY2 = dt.date(2024, 5, 1), dt.date(2024, 5, 2)
MAY2_LINES = [
    '203.0.113.9 - - [02/May/2024:08:00:00 +0000] "GET /lodash/-/lodash-4.17.20.tgz HTTP/1.1" 200 318000 "-" "npm"',
    '203.0.113.9 - - [02/May/2024:08:00:01 +0000] "GET /express/-/express-4.19.2.tgz HTTP/1.1" 200 1000 "-" "npm"',
]


def totals(db: Path) -> tuple[dict[dt.date, int], dict[str, int]]:
    """What the API answers from the store: downloads per day (all packages) and lodash's by version."""
    store = Store(db, read_only=True)
    try:
        return store.daily(None, MAY1, MAY2), store.by_version("lodash", MAY1, MAY2)
    finally:
        store.close()


def summaries(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_counting_a_file_twice_counts_it_once(tmp_path) -> None:
    log, db = tmp_path / "a.log", tmp_path / "d.sqlite"
    log.write_text("\n".join(LINES) + "\n")
    [first] = summaries(numbat_logs("count", str(log), "--db", str(db)))
    once = totals(db)
    assert once == ({MAY1: 2}, {"4.17.21": 2})

    assert summaries(numbat_logs("count", str(log), "--db", str(db))) == [{"file": str(log), "already_counted": True}]
    assert totals(db) == once
    # --recount reads it again, all of it, and still replaces
    assert summaries(numbat_logs("count", "--recount", str(log), "--db", str(db))) == [first]
    assert totals(db) == once


@pytest.mark.parametrize("change", ["grown", "replaced"])
def test_a_changed_file_is_counted_again_its_counts_replacing_the_earlier(tmp_path, change: str) -> None:
    """A log that grew (lines appended), or another file put in its place (here with
    fewer downloads), is read again, whole: its new counts replace those of the first read."""
    log, db = tmp_path / "a.log", tmp_path / "d.sqlite"
    log.write_text("\n".join(LINES) + "\n")
    summaries(numbat_logs("count", str(log), "--db", str(db)))
    if change == "grown":
        with log.open("a") as more:
            more.write("\n".join(MAY2_LINES) + "\n")
        expected = ({MAY1: 2, MAY2: 2}, {"4.17.21": 2, "4.17.20": 1})
    else:
        new = tmp_path / "new.log"
        new.write_text(MAY2_LINES[0] + "\n")
        os.replace(new, log)
        expected = ({MAY2: 1}, {"4.17.20": 1})

    [again] = summaries(numbat_logs("count", str(log), "--db", str(db)))
    assert "already_counted" not in again
    assert again["downloads"] == sum(expected[0].values())
    assert totals(db) == expected
    whole = tmp_path / "whole.sqlite"  # one count of the file as it is now
    summaries(numbat_logs("count", str(log), "--db", str(whole)))
    assert totals(whole) == expected


def test_a_file_is_known_by_its_path_so_a_copy_counts_again(tmp_path) -> None:
    """By path, on purpose (a log that grows keeps its path, not its content): a copy is
    another file to ``count``, while a symbolic link is the file it points at."""
    log, copy, link, db = tmp_path / "a.log", tmp_path / "copy.log", tmp_path / "link.log", tmp_path / "d.sqlite"
    log.write_text("\n".join(LINES) + "\n")
    shutil.copy2(log, copy)  # same bytes, same size and modification time
    link.symlink_to(log)
    lines = summaries(numbat_logs("count", str(log), str(copy), str(link), "--db", str(db)))
    assert [line.get("already_counted", False) for line in lines] == [False, False, True]
    assert totals(db) == ({MAY1: 4}, {"4.17.21": 4})


def test_a_pipe_is_counted_every_time_a_file_once(tmp_path) -> None:
    """A pipe has no size or time to know it by next time: its counts are added as live
    counts are, at every run, while the file beside it is counted once."""
    log, db = tmp_path / "a.log", tmp_path / "d.sqlite"
    log.write_text("\n".join(LINES) + "\n")
    piped = "\n".join(MAY2_LINES) + "\n"
    for _ in range(2):
        summaries(numbat_logs("count", str(log), "/dev/stdin", "--db", str(db), stdin=piped))
    assert totals(db) == ({MAY1: 2, MAY2: 4}, {"4.17.21": 2, "4.17.20": 2})


def log_bytes(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode()


def test_compressed_files_count_as_the_plain_file_told_by_their_bytes_not_their_names(tmp_path) -> None:
    data = log_bytes(LINES * 50)
    files = {
        "plain.log": data,
        "a.log": bz2.compress(data),
        "b.gz": zstandard.ZstdCompressor().compress(data),
        "c.txt": lzma.compress(data),
        "d": gzip.compress(data[:1000]) + gzip.compress(data[1000:]),  # two members, as appended logs have
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    result = numbat_logs("count", *(str(tmp_path / name) for name in files), "--db", str(tmp_path / "d.sqlite"))
    assert result.returncode == 0, result.stderr
    summaries = [json.loads(line) for line in result.stdout.splitlines()]
    assert [summary.pop("compression") for summary in summaries] == [None, "bzip2", "zstd", "xz", "gzip"]
    plain = summaries[0]
    assert (plain["downloads"], plain["requests"], plain["damage"]) == (100, 150, None)
    for summary in summaries[1:]:
        assert {**summary, "file": plain["file"]} == plain


def test_a_damaged_gzip_is_counted_as_far_as_it_goes_and_named(tmp_path) -> None:
    lines = LINES * 50  # 100 downloads: lines 0 and 1 of every 4
    whole = gzip.compress(log_bytes(lines))
    # cut short, as by a failed upload: the first 100 lines and part of the 101st (a
    # download), compressed and flushed so that all of them can be read
    deflate = zlib.compressobj(wbits=31)
    cut = deflate.compress(log_bytes(lines[:100]) + lines[100][:60].encode()) + deflate.flush(zlib.Z_SYNC_FLUSH)
    files = {"no-trailer.gz": whole[:-8], "cut.gz": cut, "garbage.gz": whole + b"appended by mistake\n"}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    result = numbat_logs("count", *(str(tmp_path / name) for name in files), "--db", str(tmp_path / "d.sqlite"))
    assert result.returncode == 3, result.stderr  # all counted, some damaged
    no_trailer, truncated, garbage = (json.loads(line) for line in result.stdout.splitlines())
    assert (no_trailer["downloads"], no_trailer["requests"]) == (100, 150)
    assert no_trailer["damage"] == "gzip trailer missing: the data is whole, its CRC-32 and size unchecked"
    assert (truncated["downloads"], truncated["requests"]) == (50, 75)
    assert sum(truncated["rejected"].values()) == 25 + 1  # the garbage lines, and the line cut short
    assert truncated["damage"] == f"truncated gzip: the data ends mid-stream ({len(cut)} bytes read)"
    assert (garbage["downloads"], garbage["requests"]) == (100, 150)
    assert garbage["damage"] == "20 bytes of trailing garbage after the gzip data"
    for summary in (no_trailer, truncated, garbage):
        assert summary["compression"] == "gzip"
        assert f"numbat-logs: {summary['file']}: damaged: {summary['damage']}\n" in result.stderr
    store = Store(tmp_path / "d.sqlite", read_only=True)
    try:
        assert store.daily("lodash", dt.date(2024, 5, 1), dt.date(2024, 5, 1)) == {dt.date(2024, 5, 1): 250}
    finally:
        store.close()

    with_a_failure = numbat_logs(
        "count", str(tmp_path / "cut.gz"), str(tmp_path / "missing.log"), "--db", str(tmp_path / "e.sqlite")
    )
    assert with_a_failure.returncode == 1  # a file that could not be counted at all outranks damage
    assert json.loads(with_a_failure.stdout)["downloads"] == 50


@pytest.mark.parametrize(
    ("argv", "status", "said"),
    [
        (
            ["live", "--syslog", "tcp://127.0.0.1:6514", "--format", "fastly", "--emit-uri", "udp://127.0.0.1:3333"],
            0,
            "",
        ),
        (["live", "--file", "nowhere.log", "--json-field", "time=when"], 0, ""),
        (["serve", "--listen", "[::1]:3338", "--cors-origin", "https://www.example.com"], 0, ""),
        (["serve", "--listen", "unix:/run/numbat/api.sock"], 0, ""),
        (["live", "--syslog", "tcp://127.0.0.1:65536"], 2, "the port must be a number from 1 to 65535"),
        (["live", "--syslog", "http://127.0.0.1:6514"], 2, "the scheme must be tcp or udp"),
        (["live", "--stdin", "--emit-uri", "gopher://127.0.0.1:3333"], 2, "argument --emit-uri"),
        (["live", "--stdin", "--idle-timeout", "0"], 2, "argument --idle-timeout"),
        (["live", "--stdin", "--json-field", "colour=c"], 2, "--json-field"),
        (["serve", "--listen", "3338"], 2, "expected host:port"),
        (["serve", "--listen", "127.0.0.1:http"], 2, "expected host:port"),
    ],
)
def test_check_starts_nothing_and_says_whether_the_arguments_are_good(tmp_path, argv, status, said) -> None:
    """``live --check`` and ``serve --check`` are what a deployment runs before it restarts
    the service with new arguments (deploy/ansible/): exit status 0 saying so, or 2 naming
    what is wrong; neither listens, reads or opens the store."""
    db = tmp_path / "downloads.sqlite"
    result = subprocess.run(
        [sys.executable, "-m", "log_parser", *argv, "--db", str(db), "--check"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == status, result.stderr
    if status == 0:
        assert result.stdout == f"numbat-logs {argv[0]}: arguments ok\n"
    else:
        assert said in result.stderr
    assert not db.exists()
