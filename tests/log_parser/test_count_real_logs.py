"""The formats as real CDNs and servers write them, through the real ``numbat-logs``
command: lines out of range beside good ones, JSON logs under their own key names, CR
inside lines, absolute and percent-encoded URLs, and logs with nothing to tell."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from log_parser import Store

DAY = dt.date(2024, 5, 1)
COMBINED = '203.0.113.9 - - [01/May/2024:12:00:07 +0000] "GET {path} HTTP/1.1" 200 {size} "-" "npm/10 node/v20"'
CLOUDFRONT_HEADER = (
    "#Version: 1.0\n"
    "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
    "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type\n"
)
CLOUDFRONT = (
    "2024-05-01\t12:00:07\tAMS50-C1\t318961\t203.0.113.9\tGET\td1.cloudfront.net\t{path}\t200\t-\t{agent}\t-\t-\tHit"
)


def numbat_logs(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "log_parser", *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def summaries(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def downloads(db: Path, package: str) -> int:
    store = Store(db, read_only=True)
    try:
        return sum(store.daily(package, DAY, DAY).values())
    finally:
        store.close()


def test_a_line_out_of_range_costs_that_line_and_the_next_files_are_read(tmp_path) -> None:
    good = COMBINED.format(path="/lodash/-/lodash-4.17.21.tgz", size=5)
    far = good.replace("01/May/2024:12:00:07 +0000", "31/Dec/9999:23:59:59 -1200")
    huge = COMBINED.format(path="/lodash/-/lodash-4.17.21.tgz", size=99999999999999999999999)
    json_good = '{"time": 1714564807, "method": "GET", "url": "/express/-/express-4.18.2.tgz", "status": 200}'
    json_far = (
        '{"time": 1700000000123456789012, "method": "GET", "url": "/express/-/express-4.18.2.tgz", "status": 200}'
    )
    json_huge = json_good[:-1] + ', "bytes": 99999999999999999999999}'
    (tmp_path / "a.log").write_text("\n".join([good, far, huge, good]) + "\n")
    (tmp_path / "b.json").write_text("\n".join([json_good, json_far, json_huge, json_good]) + "\n")
    (tmp_path / "c.log").write_text(good + "\n")
    db = tmp_path / "d.sqlite"
    result = numbat_logs("count", *(str(tmp_path / name) for name in ("a.log", "b.json", "c.log")), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    first, second, third = summaries(result)
    assert (first["downloads"], first["rejected"]) == (2, {"time out of range": 1, "size out of range": 1})
    assert (second["format"], second["downloads"]) == ("json", 2)
    assert second["rejected"] == {"time out of range": 1, "size out of range": 1}
    assert third["downloads"] == 1
    assert (downloads(db, "lodash"), downloads(db, "express")) == (3, 2)


def test_json_logs_under_their_own_key_names(tmp_path) -> None:
    """crates.io's Fastly JSON keeps the time under date_time (with nanoseconds) and the
    URL absolute: read with no mapping. A key no CDN uses needs --json-field."""
    crates_style = {
        "bytes": 36308,
        "content_type": "application/gzip",
        "date_time": "2024-05-01T12:00:07.867635728Z",
        "http": {"protocol": "HTTP/2", "referer": None, "useragent": "npm/10"},
        "ip": "192.0.2.1",
        "method": "GET",
        "status": 200,
        "url": "https://static.registry.example/express/-/express-4.18.2.tgz",
        "version": "1",
    }
    syslog = f"<134>2024-05-01T12:00:07Z cache-chi-kigq8000030 s3-request-logs[257678]: {json.dumps(crates_style)}"
    (tmp_path / "fastly.log").write_text(f"{syslog}\n" * 3)
    own = {
        "when": "2024-05-01T12:00:07Z",
        "verb": "GET",
        "target": {"p": "/lodash/-/lodash-4.17.21.tgz"},
        "code": "200",
    }
    (tmp_path / "own.json").write_text(json.dumps(own) + "\n")
    db = tmp_path / "d.sqlite"
    result = numbat_logs("count", str(tmp_path / "fastly.log"), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert (summaries(result)[0]["format"], summaries(result)[0]["downloads"]) == ("fastly", 3)
    assert downloads(db, "express") == 3

    mapped = ["--json-field", "time=when", "--json-field", "path=target.p", "--json-field", "status=code"]
    result = numbat_logs("count", str(tmp_path / "own.json"), "--format", "json", "--db", str(db), *mapped)
    assert result.returncode == 0, result.stderr
    assert summaries(result)[0]["downloads"] == 1
    assert downloads(db, "lodash") == 1

    result = numbat_logs("live", "--stdin", "--format", "json", "--db", str(db), *mapped, stdin=json.dumps(own) + "\n")
    assert result.returncode == 0, result.stderr
    assert downloads(db, "lodash") == 2

    folder = tmp_path / "objects"
    folder.mkdir()
    (folder / "own.json").write_text(json.dumps(own) + "\n")
    result = numbat_logs(
        "backfill", str(folder), "--workers", "1", "--format", "json", "--db", str(tmp_path / "b.sqlite"), *mapped
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["formats"] == {"json": 1}
    assert downloads(tmp_path / "b.sqlite", "lodash") == 1

    for bad, message in [
        ("when", "expected FIELD=KEY"),
        ("moment=when", "'moment' is not one of"),
        ("time=a..b", "expected"),
    ]:
        result = numbat_logs("count", str(tmp_path / "own.json"), "--db", str(db), "--json-field", bad)
        assert result.returncode == 2
        assert message in result.stderr


def test_absolute_and_percent_encoded_tarball_urls_count(tmp_path) -> None:
    lines = [
        COMBINED.format(path="https://static.registry.example/express/-/express-4.18.2.tgz", size=5),
        COMBINED.format(path="/express/-/express-4.18.2%2Etgz", size=5),
        '{"time": 1714564807, "method": "GET", "url": "https://static.example/express/-/express-4.18.2.tgz", "status": 200}',
    ]
    (tmp_path / "a.log").write_text("\n".join(lines[:2]) + "\n")
    (tmp_path / "b.json").write_text(lines[2] + "\n")
    db = tmp_path / "d.sqlite"
    result = numbat_logs("count", str(tmp_path / "a.log"), str(tmp_path / "b.json"), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert [summary["downloads"] for summary in summaries(result)] == [2, 1]
    assert downloads(db, "express") == 3


@pytest.mark.parametrize("name", ["cloudfront", "json", "fastly", "combined"])
def test_a_bare_cr_inside_a_line_does_not_split_it(tmp_path, name: str) -> None:
    """Lines end at LF (a CR before it dropped); a CR anywhere else belongs to the line."""
    if name == "cloudfront":
        text = CLOUDFRONT_HEADER + CLOUDFRONT.format(path="/lodash/-/lodash-4.17.21.tgz", agent="npm\r/10") + "\r\n"
    elif name == "json":
        text = '{"time": 1714564807,\r"method": "GET", "url": "/lodash/-/lodash-4.17.21.tgz", "status": 200}\r\n'
    else:
        combined = COMBINED.format(path="/lodash/-/lodash-4.17.21.tgz", size=5).replace("npm/10", "npm\r/10")
        text = (
            f"<134>2024-05-01T12:00:07Z cache-ams21 registry[1]: {combined}" if name == "fastly" else combined
        ) + "\r\n"
    log = tmp_path / "cr.log"
    log.write_bytes(text.encode() * 3)
    db = tmp_path / "d.sqlite"
    result = numbat_logs("count", str(log), "--format", name, "--db", str(db))
    assert result.returncode == 0, result.stderr
    (summary,) = summaries(result)
    assert (summary["downloads"], summary["rejected"]) == (3, {})
    assert downloads(db, "lodash") == 3


def test_detection_no_single_line_decides_and_an_empty_log_is_no_error(tmp_path) -> None:
    combined = "\n".join(
        ["#Version: 1.0", "# a comment written by a log shipper"]
        + [COMBINED.format(path="/lodash/-/lodash-4.17.21.tgz", size=5)] * 40
    )
    (tmp_path / "combined.log").write_text(combined + "\n")
    (tmp_path / "cloudfront.log").write_text(
        CLOUDFRONT_HEADER + CLOUDFRONT.format(path="/a/-/a-1.0.0.tgz", agent="npm") + "\n"
    )
    (tmp_path / "empty.log").write_text("")
    (tmp_path / "empty.log.gz").write_bytes(gzip.compress(b""))
    (tmp_path / "blank.log").write_text("\n" * 50)
    (tmp_path / "headers.log").write_text(CLOUDFRONT_HEADER)
    names = ["combined.log", "cloudfront.log", "empty.log", "empty.log.gz", "blank.log", "headers.log"]
    db = tmp_path / "d.sqlite"
    result = numbat_logs("count", *(str(tmp_path / name) for name in names), "--db", str(db))
    assert result.returncode == 0, result.stderr
    got = {Path(str(summary["file"])).name: summary for summary in summaries(result)}
    # the two comment lines are not log lines to the combined format: refused, the rest counted
    assert (got["combined.log"]["format"], got["combined.log"]["downloads"]) == ("combined", 40)
    assert got["combined.log"]["rejected"] == {"not a combined or common log line": 2}
    assert (got["cloudfront.log"]["format"], got["cloudfront.log"]["downloads"]) == ("cloudfront", 1)
    for name in names[2:]:
        assert (got[name]["format"], got[name]["requests"], got[name]["rejected"]) == ("none", 0, {}), name

    (tmp_path / "garbage.log").write_text("no format reads this\n" * 5)
    result = numbat_logs("count", str(tmp_path / "garbage.log"), "--db", str(db))
    assert result.returncode == 1
    assert "cannot tell the log format" in result.stderr


def test_bytes_served_past_64_bits_are_printed_exactly(tmp_path) -> None:
    """Each size is in range, their total is not a 64-bit number: the summary says it exactly."""
    lines = [COMBINED.format(path="/lodash/-/lodash-4.17.21.tgz", size=999_999_999_999_999)] * 20_000
    (tmp_path / "big.log").write_text("\n".join(lines) + "\n")
    result = numbat_logs("count", str(tmp_path / "big.log"), "--db", str(tmp_path / "d.sqlite"))
    assert result.returncode == 0, result.stderr
    (summary,) = summaries(result)
    assert summary["bytes_served"] == 20_000 * 999_999_999_999_999
    assert summary["downloads"] == 20_000
