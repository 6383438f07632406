"""Backfill sources and planning, the parts without a server: URLs, credentials, dates in
object names, which objects a run reads, reading a stream, the progress line."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import io
import lzma
import zlib
from collections import Counter

import pytest
import zstandard

from log_parser._reading import ChunkReader, tally_stream
from log_parser.backfill import Credentials, ObjectInfo, Selection, SourceError, load_credentials, parse_source, plan
from log_parser.backfill._job import largest_first
from log_parser.backfill._progress import render
from log_parser.backfill._sources import date_in_name
from log_parser.core import Tally
from log_parser.store import ObjectRecord, to_day_counts

from .backfill_data import as_cloudfront, generate, reference_count


def test_a_folder_is_the_local_drivers_container(tmp_path) -> None:
    folder = tmp_path / "logs"
    for url in (str(folder), f"file://{folder}"):
        source = parse_source(url)
        assert (source.kind, source.base_path, source.container, source.prefix) == ("folder", str(tmp_path), "logs", "")
    assert parse_source(str(folder)).with_prefix("cdn/2026/").prefix == "cdn/2026/"


def test_s3_urls() -> None:
    creds = Credentials("k", "s")
    aws = parse_source("s3://logs-bucket/cdn/2026/?region=eu-west-1", creds)
    assert (aws.kind, aws.container, aws.prefix, aws.endpoint, aws.region) == (
        "s3",
        "logs-bucket",
        "cdn/2026/",
        None,
        "eu-west-1",
    )
    local = parse_source("s3://b/p?endpoint=http://127.0.0.1:8333", creds)
    assert (local.endpoint, local.region, local.credentials) == ("http://127.0.0.1:8333", "us-east-1", creds)
    driver = local.driver()
    assert (driver.connection.host, driver.connection.port, driver.connection.secure) == ("127.0.0.1", 8333, False)
    assert "s" not in repr(local.credentials).replace("Credentials", "")  # the secret is never printed
    with pytest.raises(SourceError, match="unknown option"):
        parse_source("s3://b/p?endpont=http://x")
    for endpoint in ("127.0.0.1:8333", "http://127.0.0.1:port", "http://"):
        with pytest.raises(SourceError, match="http://host"):
            parse_source(f"s3://b/p?endpoint={endpoint}")
    with pytest.raises(SourceError, match="key and a secret"):
        parse_source("s3://b/p").driver()
    with pytest.raises(SourceError, match="no bucket"):
        parse_source("s3:///p")


def test_other_libcloud_drivers_by_name() -> None:
    source = parse_source("libcloud+google_storage://bucket/logs/?project=x", Credentials("k", "s"))
    assert (source.kind, source.container, source.prefix, source.options) == (
        "libcloud+google_storage",
        "bucket",
        "logs/",
        (("project", "x"),),
    )
    # libcloud's own s3 and local drivers stay libcloud's, apart from ours
    assert [parse_source(f"libcloud+{name}://c/").kind for name in ("s3", "local")] == ["libcloud+s3", "libcloud+local"]
    with pytest.raises(SourceError, match="no libcloud storage driver"):
        parse_source("libcloud+no_such_cloud://bucket/").driver()
    with pytest.raises(SourceError, match="port must be a number"):
        parse_source("libcloud+minio://bucket/?host=h&port=http", Credentials("k", "s")).driver()
    minio = parse_source("libcloud+minio://bucket/?host=127.0.0.1&port=9000&secure=false", Credentials("k", "s"))
    assert (minio.driver().connection.port, minio.driver().connection.secure) == (9000, False)
    with pytest.raises(SourceError, match="use a folder"):
        parse_source("ftp://host/logs")


def test_credentials_from_a_file_or_the_environment(tmp_path) -> None:
    file = tmp_path / "creds.toml"
    file.write_text('key = "AK"\nsecret = "SK"\n')
    assert load_credentials(file, {"AWS_ACCESS_KEY_ID": "other"}) == Credentials("AK", "SK")
    environ = {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "NUMBAT_STORAGE_KEY": "n"}
    assert load_credentials(None, environ) == Credentials("n", "b")
    assert load_credentials(None, {}) == Credentials()
    file.write_text('key = "AK"\nsecrets = "SK"\n')
    with pytest.raises(SourceError, match="unknown key"):
        load_credentials(file)


@pytest.mark.parametrize(
    ("name", "day"),
    [
        ("cdn/E2EXAMPLE.2026-11-20-13.a1b2c3d4.gz", dt.date(2026, 11, 20)),
        ("fastly/2026/11/20/00-15.log.gz", dt.date(2026, 11, 20)),
        ("logs/year=2026/month=11/day=7/part-0.gz", dt.date(2026, 11, 7)),
        ("archive/2025-01-01/2026-11-20.log", dt.date(2026, 11, 20)),  # the most specific, last
        ("cdn/access.log.1.gz", None),
        ("cdn/2026-13-45.log", None),  # not a date
        ("cdn/12026-11-20.log", None),  # no date inside a longer number
    ],
)
def test_dates_in_object_names(name: str, day: dt.date | None) -> None:
    assert date_in_name(name) == day


def test_plan_skips_done_objects_and_redoes_changed_ones() -> None:
    source = parse_source("/tmp/logs")
    listed = [
        ObjectInfo("cdn/2026/11/19/a.gz", 10, "e1"),  # out of range
        ObjectInfo("cdn/2026/11/20/b.gz", 10, "e2"),  # done, same version
        ObjectInfo("cdn/2026/11/20/c.gz", 12, "e3"),  # done, but it changed since
        ObjectInfo("cdn/2026/11/21/d.gz", 10, "e4"),  # new (arrived late)
        ObjectInfo("cdn/undated.gz", 10, "e5"),  # no date: read, its days limited to the range
    ]
    key = source.object_key
    assert key("cdn/2026/11/20/b.gz") == "file:///tmp/logs/cdn/2026/11/20/b.gz"
    records = {key("cdn/2026/11/20/b.gz"): ObjectRecord("e2", 10), key("cdn/2026/11/20/c.gz"): ObjectRecord("e3", 10)}
    selection = Selection(dt.date(2026, 11, 20), dt.date(2026, 11, 21))
    result = plan(source, listed, records, selection)
    assert (result.listed, result.already_done, result.out_of_range) == (5, 1, 1)
    assert [task.object.name for task in result.todo] == [
        "cdn/2026/11/20/c.gz",
        "cdn/2026/11/21/d.gz",
        "cdn/undated.gz",
    ]
    assert [task.window for task in result.todo] == [Selection(), Selection(), selection]
    # an undated object done under another range is redone under this one
    records[key("cdn/undated.gz")] = ObjectRecord("e5", 10, "2026-11-01..")
    assert "cdn/undated.gz" in [task.object.name for task in plan(source, listed, records, selection).todo]
    records[key("cdn/undated.gz")] = ObjectRecord("e5", 10, selection.key())
    other_folder = parse_source("/tmp/other-logs")  # the same names elsewhere are other objects
    assert len(plan(other_folder, listed, records, selection).todo) == 4
    assert "cdn/undated.gz" not in [task.object.name for task in plan(source, listed, records, selection).todo]


def test_chunk_reader_serves_reads_across_chunk_boundaries() -> None:
    chunks = [b"ab", b"", b"cdefg", b"h"]
    reader = io.BufferedReader(ChunkReader(chunks), buffer_size=3)
    assert reader.read(4) == b"abcd"
    assert reader.read() == b"efgh"
    assert reader.read() == b""


def test_progress_line() -> None:
    line = render(10, 40, failed=1, lines=2_500_000, elapsed=2.0, bytes_done=25, bytes_total=100)
    assert line == f"[{'#' * 6}{'-' * 18}] 10/40 objects  1 failed  2,500,000 lines  1,250,000 lines/s  ETA 0:00:06"
    assert render(0, 40, failed=0, lines=0, elapsed=0.0, bytes_done=0, bytes_total=100).endswith("ETA ?")


def test_a_stream_counts_the_same_compressed_or_not_and_with_crlf_line_ends() -> None:
    lines = generate(1, 300, seed=31).popitem()[1]
    combined = ("\n".join(lines) + "\n").encode()
    cloudfront = as_cloudfront(lines).encode()
    expected = reference_count(lines)
    compressions = {"gzip": gzip.compress, "bzip2": bz2.compress, "zstd": zstandard.compress, "xz": lzma.compress}
    for data in (combined, cloudfront):
        variants = {None: data, "crlf": data.replace(b"\n", b"\r\n")}
        variants.update({name: compress(data) for name, compress in compressions.items()})
        for name, variant in variants.items():
            tally = tally_stream(io.BytesIO(variant))
            assert reference_count_of(tally) == expected
            assert tally.requests + sum(tally.rejected.values()) == 300
            assert (tally.compression, tally.damage) == (None if name == "crlf" else name, None)


def test_a_damaged_stream_counts_its_whole_lines_in_any_format() -> None:
    lines = generate(1, 300, seed=32).popitem()[1]
    cut_at = next(n for n in range(200, 300) if "/-/" in lines[n])  # a download, to be cut in its path
    for text in (lambda some: "".join(f"{line}\n" for line in some)), as_cloudfront:
        data = text(lines).encode()
        no_trailer = tally_stream(io.BytesIO(gzip.compress(data)[:-8]))
        assert reference_count_of(no_trailer) == reference_count(lines)
        assert no_trailer.damage == "gzip trailer missing: the data is whole, its CRC-32 and size unchecked"
        last = text(lines[cut_at : cut_at + 1]).splitlines()[-1]
        part = text(lines[:cut_at]) + last[: last.index("/-/") + 3]
        deflate = zlib.compressobj(wbits=31)
        cut = tally_stream(io.BytesIO(deflate.compress(part.encode()) + deflate.flush(zlib.Z_SYNC_FLUSH)))
        assert reference_count_of(cut) == reference_count(lines[:cut_at])
        assert cut.requests + sum(cut.rejected.values()) == cut_at + 1  # the line cut short is refused
        assert cut.damage is not None
        assert cut.damage.startswith("truncated gzip: the data ends mid-stream")
    # damaged before its first byte (a block of the reserved type 3): no line to tell the format by
    nothing = tally_stream(io.BytesIO(gzip.compress(b"")[:10] + b"\x07" + bytes(100)))
    assert (nothing.requests, nothing.rejected, nothing.compression) == (0, {}, "gzip")
    assert nothing.damage == "corrupt gzip data: invalid block type (at compressed byte 111 or before)"


def reference_count_of(tally: Tally) -> Counter[tuple[str, str, dt.date]]:
    return Counter(to_day_counts(tally.downloads.items()))


def test_a_backfill_reads_the_largest_objects_first() -> None:
    """Workers that take the next object as they finish one end together when the small
    ones come last."""
    source = parse_source("/tmp/logs")
    sizes = [5, 500, 7, 50, 500, 1]
    tasks = plan(source, [ObjectInfo(f"cdn/o{n}.gz", size, f"e{n}") for n, size in enumerate(sizes)], {}).todo
    ordered = largest_first(tasks)
    assert [task.object.size for task in ordered] == [500, 500, 50, 7, 5, 1]
    assert sorted(task.object.name for task in ordered) == sorted(task.object.name for task in tasks)
