"""numbat-logs backfill from a real S3-compatible server (SeaweedFS on 127.0.0.1).

libcloud's own S3 driver cannot list this server's buckets (SeaweedFS 4.48 answers 501 to
the ``Version=2006-03-01`` parameter libcloud adds); these tests go through our driver,
which sends no such parameter, for listing and streaming alike.
"""

from __future__ import annotations

import os
import subprocess
import sys

from log_parser.backfill import Credentials, parse_source

from .backfill_data import (
    FIRST_DAY,
    all_lines,
    generate,
    gzipped,
    object_lines,
    reference_count,
    store_counts,
    write_folder,
)
from .seaweedfs import ACCESS_KEY, SECRET_KEY, SeaweedFS
from .test_backfill import dump, summary_of


def upload(seaweedfs: SeaweedFS, bucket: str, objects: dict[str, bytes]) -> None:
    source = parse_source(f"s3://{bucket}/?endpoint={seaweedfs.endpoint}", Credentials(ACCESS_KEY, SECRET_KEY))
    driver, container = source.open_container()
    for name, data in objects.items():
        driver.upload_object_via_stream(iter([data]), container, name)


def backfill_s3(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if "AWS" not in key and "NUMBAT" not in key}
    environ.update({"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY} if env is None else env)
    return subprocess.run(
        [sys.executable, "-m", "log_parser", "backfill", *args], capture_output=True, text=True, timeout=60, env=environ
    )


def test_s3_backfill_equals_the_reference_and_the_local_run(seaweedfs, bucket, tmp_path) -> None:
    objects = generate(10, 1500, seed=5)
    others = {"other/2026-11-18.log.gz": gzipped(object_lines(77, FIRST_DAY, 1, 100))}  # not under the prefix
    upload(seaweedfs, bucket, {name: gzipped(lines) for name, lines in objects.items()} | others)
    db = tmp_path / "s3.sqlite"
    result = backfill_s3(f"s3://{bucket}/cdn/?endpoint={seaweedfs.endpoint}", "--db", str(db), "--workers", "2")
    assert result.returncode == 0, result.stderr
    summary = summary_of(result)
    assert (summary["listed"], summary["processed"], summary["failed"]) == (10, 10, [])
    assert summary["lines"] == 10 * 1500
    assert store_counts(db) == reference_count(all_lines(objects))

    write_folder(tmp_path / "logs", objects)
    local_db = tmp_path / "local.sqlite"
    local = backfill_s3(str(tmp_path / "logs"), "--db", str(local_db), "--prefix", "cdn/")
    assert local.returncode == 0, local.stderr
    s3_rows = [(key.removeprefix(f"s3://{bucket}/"), *rest) for key, *rest in dump(db, "backfill")["backfill"]]
    local_prefix = f"{(tmp_path / 'logs').as_uri()}/"
    local_rows = [(key.removeprefix(local_prefix), *rest) for key, *rest in dump(local_db, "backfill")["backfill"]]
    assert s3_rows == local_rows
    assert s3_rows[0][0].startswith("cdn/")

    rerun = backfill_s3(f"s3://{bucket}/cdn/?endpoint={seaweedfs.endpoint}", "--db", str(db))
    assert (summary_of(rerun)["processed"], summary_of(rerun)["already_done"]) == (0, 10)


def test_s3_credentials_file_and_refused_credentials(seaweedfs, bucket, tmp_path) -> None:
    objects = generate(2, 200, seed=6)
    upload(seaweedfs, bucket, {name: gzipped(lines) for name, lines in objects.items()})
    url = f"s3://{bucket}/?endpoint={seaweedfs.endpoint}"
    credentials = tmp_path / "s3.toml"
    credentials.write_text(f'key = "{ACCESS_KEY}"\nsecret = "{SECRET_KEY}"\n')
    with_file = backfill_s3(url, "--db", str(tmp_path / "d.sqlite"), "--credentials", str(credentials), env={})
    assert with_file.returncode == 0, with_file.stderr
    assert store_counts(tmp_path / "d.sqlite") == reference_count(all_lines(objects))

    wrong = backfill_s3(
        url, "--db", str(tmp_path / "e.sqlite"), env={"AWS_ACCESS_KEY_ID": "nobody", "AWS_SECRET_ACCESS_KEY": "x"}
    )
    assert wrong.returncode == 2
    assert SECRET_KEY not in wrong.stderr + wrong.stdout


def test_s3_failed_and_damaged_objects_are_named_and_the_others_are_recorded(seaweedfs, bucket, tmp_path) -> None:
    objects = generate(4, 500, seed=8)
    payloads = {name: gzipped(lines) for name, lines in objects.items()}
    broken = "cdn/2026/11/18/E2EXAMPLE.2026-11-18-22.dead.gz"
    payloads[broken] = gzipped([])[:10] + b"\x07" + os.urandom(2000)  # a gzip header, then a block of no known type
    unreadable = "cdn/2026/11/18/E2EXAMPLE.2026-11-18-23.beef.gz"
    payloads[unreadable] = b"no log format at all\n" * 100
    upload(seaweedfs, bucket, payloads)
    db = tmp_path / "d.sqlite"
    result = backfill_s3(f"s3://{bucket}/?endpoint={seaweedfs.endpoint}", "--db", str(db))
    assert result.returncode == 1
    assert f"failed: s3://{bucket}/{unreadable}: ParseError: cannot tell the log format" in result.stderr
    assert f"damaged: s3://{bucket}/{broken}: corrupt gzip data: invalid block type" in result.stderr
    summary = summary_of(result)
    assert [failure["object"] for failure in summary["failed"]] == [f"s3://{bucket}/{unreadable}"]
    assert [damaged["object"] for damaged in summary["damaged"]] == [f"s3://{bucket}/{broken}"]
    assert store_counts(db) == reference_count(all_lines(objects))
