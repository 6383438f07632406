"""numbat-logs backfill on a real Dask cluster (distributed.LocalCluster, two worker
processes on 127.0.0.1): the same totals as the process pool and the reference count."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from distributed import Client, LocalCluster

from .backfill_data import all_lines, generate, gzipped, reference_count, store_counts, write_folder
from .test_backfill import backfill, dump, summary_of
from .test_backfill_s3 import backfill_s3, upload


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as local_cluster:
        yield local_cluster


def test_dask_equals_the_process_pool_and_the_reference(cluster, tmp_path) -> None:
    """Runs first on its module's cluster, so the workers' executed counts are its own."""
    objects = generate(12, 1500, seed=11)
    write_folder(tmp_path / "logs", objects)
    on_dask = backfill(
        str(tmp_path / "logs"), "--db", str(tmp_path / "dask.sqlite"), "--scheduler", cluster.scheduler_address
    )
    assert on_dask.returncode == 0, on_dask.stderr
    summary = summary_of(on_dask)
    assert summary["executor"] == f"Dask cluster at {cluster.scheduler_address} (2 workers)"
    assert (summary["processed"], summary["failed"]) == (12, [])
    assert store_counts(tmp_path / "dask.sqlite") == reference_count(all_lines(objects))

    pool = backfill(str(tmp_path / "logs"), "--db", str(tmp_path / "pool.sqlite"), "--workers", "2")
    assert pool.returncode == 0, pool.stderr
    tables = ("backfill", "backfilled_days")
    assert dump(tmp_path / "dask.sqlite", *tables) == dump(tmp_path / "pool.sqlite", *tables)

    with Client(cluster) as client:  # both worker processes took objects
        executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    assert len(executed) == 2
    assert all(count > 0 for count in executed.values())


def test_dask_reports_failed_and_damaged_objects_by_name(cluster, tmp_path) -> None:
    objects = generate(3, 300, seed=12)
    write_folder(tmp_path / "logs", objects)
    (tmp_path / "logs" / "cdn" / "broken.gz").write_bytes(b"\x1f\x8b\x08\x00not gzip at all")
    (tmp_path / "logs" / "cdn" / "unreadable.log").write_bytes(b"no log format at all\n")
    result = backfill(
        str(tmp_path / "logs"), "--db", str(tmp_path / "d.sqlite"), "--scheduler", cluster.scheduler_address
    )
    assert result.returncode == 1
    assert f"failed: {(tmp_path / 'logs').as_uri()}/cdn/unreadable.log: " in result.stderr
    assert f"damaged: {(tmp_path / 'logs').as_uri()}/cdn/broken.gz: corrupt gzip data: " in result.stderr
    assert store_counts(tmp_path / "d.sqlite") == reference_count(all_lines(objects))


def test_dask_reads_s3_as_the_pool_does(cluster, seaweedfs, bucket, tmp_path) -> None:
    objects = generate(6, 1000, seed=13)
    upload(seaweedfs, bucket, {name: gzipped(lines) for name, lines in objects.items()})
    url = f"s3://{bucket}/?endpoint={seaweedfs.endpoint}"
    on_dask = backfill_s3(url, "--db", str(tmp_path / "dask.sqlite"), "--scheduler", cluster.scheduler_address)
    assert on_dask.returncode == 0, on_dask.stderr
    pool = backfill_s3(url, "--db", str(tmp_path / "pool.sqlite"), "--workers", "2")
    assert pool.returncode == 0, pool.stderr
    assert store_counts(tmp_path / "dask.sqlite") == reference_count(all_lines(objects))
    tables = ("backfill", "backfilled_days")
    assert dump(tmp_path / "dask.sqlite", *tables) == dump(tmp_path / "pool.sqlite", *tables)


def test_an_unreachable_scheduler_exits_2(tmp_path) -> None:
    (tmp_path / "logs").mkdir()
    result = backfill(
        str(tmp_path / "logs"),
        "--db",
        str(tmp_path / "d.sqlite"),
        "--scheduler",
        "tcp://127.0.0.1:9",
        "--connect-timeout",
        "2",
    )
    assert result.returncode == 2
    assert "tcp://127.0.0.1:9" in result.stderr
