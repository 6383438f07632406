"""The downloads store and the npm-compatible API over it, filled by the parser: each
test with either store, SQLite and PostgreSQL (``store_location``)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from log_parser._api import create_app
from log_parser._cors import parse_origin
from log_parser.core import Tally
from log_parser.core.formats import CombinedParser
from log_parser.store import FileRecord, Store, open_store, to_day_counts

TODAY = dt.date(2024, 5, 10)


def log_line(day: dt.date, path: str, status: int = 200, method: str = "GET") -> str:
    return (
        f'203.0.113.9 - - [{day.strftime("%d/%b/%Y")}:12:00:07 +0000] "{method} {path} HTTP/1.1" {status} 100 "-" "npm"'
    )


def fill(store: Store, lines: list[str]) -> None:
    tally = Tally()
    parser = CombinedParser()
    for line in lines:
        tally.add(parser.parse(line))
    store.add_live(to_day_counts(tally.downloads.items()))


def day(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


@pytest.fixture
def client(store_location: str):
    path = store_location
    store = open_store(path)
    lines = []
    for n in range(1, 40):  # one lodash 4.17.21 download a day, two of express on even days
        lines.append(log_line(day(n), "/lodash/-/lodash-4.17.21.tgz"))
        if n % 2 == 0:
            lines += [log_line(day(n), "/express/-/express-4.19.2.tgz")] * 2
    lines += [
        log_line(day(1), "/lodash/-/lodash-4.17.20.tgz"),
        log_line(day(1), "/@babel/core/-/core-7.24.0.tgz"),
        log_line(day(1), "/lodash/-/lodash-4.17.21.tgz", status=304),  # not downloads
        log_line(day(1), "/lodash/-/lodash-4.17.21.tgz", method="HEAD"),
        log_line(day(1), "/lodash"),
        log_line(TODAY, "/lodash/-/lodash-4.17.21.tgz"),  # today's live count
    ]
    fill(store, lines)
    store.close()
    with TestClient(create_app(path, today=lambda: TODAY), backend="trio") as test_client:
        yield test_client


def test_point_for_one_package_and_for_all(client) -> None:
    assert client.get("/downloads/point/last-day/lodash").json() == {
        "downloads": 2,
        "start": "2024-05-09",
        "end": "2024-05-09",
        "package": "lodash",
    }
    week = client.get("/downloads/point/last-week/express").json()
    assert week == {"downloads": 6, "start": "2024-05-03", "end": "2024-05-09", "package": "express"}
    assert client.get("/downloads/point/last-day").json() == {
        "downloads": 3,
        "start": "2024-05-09",
        "end": "2024-05-09",
    }
    assert client.get("/downloads/point/2024-05-10/lodash").json()["downloads"] == 1  # today, live
    assert client.get("/downloads/point/last-month/lodash").json()["downloads"] == 31
    assert client.get("/downloads/point/last-day/@babel/core").json()["package"] == "@babel/core"
    assert client.get("/downloads/point/last-day/@babel%2Fcore").json()["downloads"] == 1


def test_range_lists_every_day_in_order(client) -> None:
    document = client.get("/downloads/range/2024-05-06:2024-05-09/express").json()
    assert document == {
        "start": "2024-05-06",
        "end": "2024-05-09",
        "package": "express",
        "downloads": [
            {"day": "2024-05-06", "downloads": 2},
            {"day": "2024-05-07", "downloads": 0},
            {"day": "2024-05-08", "downloads": 2},
            {"day": "2024-05-09", "downloads": 0},
        ],
    }
    everything = client.get("/downloads/range/last-week").json()
    assert [d["day"] for d in everything["downloads"]] == [(day(n)).isoformat() for n in range(7, 0, -1)]
    assert "package" not in everything


def test_bulk_lookups(client) -> None:
    document = client.get("/downloads/point/last-day/lodash,express,@babel/core,nope").json()
    assert document == {
        "lodash": {"downloads": 2, "start": "2024-05-09", "end": "2024-05-09", "package": "lodash"},
        "express": {"downloads": 0, "start": "2024-05-09", "end": "2024-05-09", "package": "express"},
        "@babel/core": {"downloads": 1, "start": "2024-05-09", "end": "2024-05-09", "package": "@babel/core"},
        "nope": None,
    }
    ranged = client.get("/downloads/range/2024-05-08:2024-05-09/lodash,express").json()
    assert ranged["express"]["downloads"] == [
        {"day": "2024-05-08", "downloads": 2},
        {"day": "2024-05-09", "downloads": 0},
    ]


def test_a_comma_makes_a_bulk_lookup_as_at_npm(client) -> None:
    """npm answers ``lodash,`` with the bulk map (its maintainers name the trailing comma
    as the way to always get that shape); empty names are ignored."""
    lodash = {"downloads": 2, "start": "2024-05-09", "end": "2024-05-09", "package": "lodash"}
    assert client.get("/downloads/point/last-day/lodash,").json() == {"lodash": lodash}
    assert client.get("/downloads/point/last-day/,lodash,,lodash").json() == {"lodash": lodash}
    assert client.get("/downloads/point/last-day/nope,").json() == {"nope": None}
    assert client.get("/downloads/point/last-day/,").json() == {}
    ranged = client.get("/downloads/range/2024-05-08:2024-05-09/express,").json()
    assert list(ranged) == ["express"]
    assert ranged["express"]["downloads"] == [
        {"day": "2024-05-08", "downloads": 2},
        {"day": "2024-05-09", "downloads": 0},
    ]


def test_versions_last_week_and_any_period(client) -> None:
    assert client.get("/versions/lodash/last-week").json() == {
        "package": "lodash",
        "downloads": {"4.17.21": 7, "4.17.20": 1},
    }
    assert client.get("/versions/@babel%2Fcore/last-week").json() == {
        "package": "@babel/core",
        "downloads": {"7.24.0": 1},
    }
    assert client.get("/versions/lodash/2024-05-10").json()["downloads"] == {"4.17.21": 1}


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/downloads/point/last-century/lodash", 400, "invalid date"),
        ("/downloads/point/2024-02-30/lodash", 400, "invalid date"),
        ("/downloads/point/2026-W01-1/lodash", 400, "invalid date"),  # an ISO week date
        ("/downloads/range/2024-05-01:2024-W19-4/lodash", 400, "invalid date"),
        ("/downloads/range/2023-01-01:2024-05-01/lodash,", 400, "exceeded max days of 365"),  # bulk
        ("/downloads/point/2024-05-09:2024-05-01/lodash", 400, "end date > start date"),
        ("/downloads/range/2020-01-01:2024-05-01/lodash", 400, "exceeded max days of 548"),
        ("/downloads/range/2023-01-01:2024-05-01/lodash,express", 400, "exceeded max days of 365"),
        (
            "/downloads/point/last-day/" + ",".join(f"p{i}" for i in range(129)),
            400,
            "bulk queries are limited to 128 packages",
        ),
        ("/downloads/point/last-day/no-such-package", 404, "package no-such-package not found"),
        ("/versions/no-such-package/last-week", 404, "package no-such-package not found"),
    ],
)
def test_errors_as_npm_answers_them(client, path: str, status: int, error: str) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.json() == {"error": error}


def test_backfill_replaces_live_counts_and_is_idempotent(store_location: str) -> None:
    store = open_store(store_location)
    may1 = dt.date(2024, 5, 1)
    store.add_live({("lodash", "1.0.0", may1): 5})  # provisional
    assert store.daily("lodash", may1, may1) == {may1: 5}
    store.replace_object("logs/2024-05-01/a.gz", {("lodash", "1.0.0", may1): 3})
    assert store.daily("lodash", may1, may1) == {may1: 3}  # replaced, not 8
    store.replace_object("logs/2024-05-01/a.gz", {("lodash", "1.0.0", may1): 3})
    assert store.daily("lodash", may1, may1) == {may1: 3}  # twice is once
    store.replace_object("logs/2024-05-01/late.gz", {("lodash", "1.0.0", may1): 2})
    assert store.daily("lodash", may1, may1) == {may1: 5}  # a late object adds only its own
    store.add_live({("lodash", "1.0.0", may1): 100})  # live rows for a backfilled day no longer count
    assert store.daily("lodash", may1, may1) == {may1: 5}
    assert store.objects() == {"logs/2024-05-01/a.gz", "logs/2024-05-01/late.gz"}


def test_file_counts_and_live_counts_add_up_until_a_backfill_replaces_both(store_location: str) -> None:
    """``count`` rows are provisional, as live rows are: the two add up on a day no
    backfill has covered (they come from different logs), and a backfill of a day
    replaces both."""
    store = open_store(store_location)
    may1, may2 = dt.date(2024, 5, 1), dt.date(2024, 5, 2)
    store.add_live({("lodash", "1.0.0", may1): 5, ("lodash", "1.0.0", may2): 1})
    file_counts = {("lodash", "1.0.0", may1): 3, ("lodash", "2.0.0", may2): 2, ("left-pad", "1.3.0", may2): 7}
    store.replace_file("file:///logs/a.log", file_counts, FileRecord(100, 1, lines=12, downloads=12))
    assert store.daily("lodash", may1, may2) == {may1: 8, may2: 3}
    assert store.by_version("lodash", may1, may2) == {"1.0.0": 9, "2.0.0": 2}
    assert store.daily(None, may2, may2) == {may2: 10}
    assert store.known("left-pad")  # a package only a counted file has is known to the API

    store.replace_object("cdn/2024-05-01.gz", {("lodash", "1.0.0", may1): 4})  # vouches for May 1
    assert store.daily("lodash", may1, may2) == {may1: 4, may2: 3}  # not 4 + 5 + 3 on May 1
    assert store.by_version("lodash", may1, may1) == {"1.0.0": 4}
    assert store.by_version("lodash", may2, may2) == {"1.0.0": 1, "2.0.0": 2}  # still live + file
    store.close()


def test_a_recounted_file_replaces_its_rows_and_record_whole_or_not_at_all(store_location: str) -> None:
    store = open_store(store_location)
    may1 = dt.date(2024, 5, 1)
    name = "file:///logs/a.log"
    assert store.file_record(name) is None
    store.replace_file(name, {("lodash", "1.0.0", may1): 3}, FileRecord(100, 1, lines=4, downloads=3, rejected=1))
    assert store.file_record(name) == FileRecord(100, 1, lines=4, downloads=3, rejected=1)
    # rows name their file by its id, not by its (long) name
    ids = store._db.execute(  # type: ignore[attr-defined]
        "SELECT DISTINCT f.file, c.id FROM file_counts AS f, counted_files AS c WHERE c.file = 'file:///logs/a.log'"
    ).fetchall()
    assert len(ids) == 1
    assert ids[0][0] == ids[0][1]

    store.replace_file(name, {("lodash", "1.0.0", may1): 5}, FileRecord(160, 2, lines=5, downloads=5))  # it grew
    assert store.daily("lodash", may1, may1) == {may1: 5}  # replaced, not 8
    assert store.file_record(name) == FileRecord(160, 2, lines=5, downloads=5)

    may2 = may1 + dt.timedelta(days=1)
    broken = {("lodash", "1.0.0", may1): 9, ("lodash", None, may2): 1}  # a row SQLite refuses, after a good one
    with pytest.raises(store.Error, match=r"(?i)not.null"):
        store.replace_file(name, broken, FileRecord(999, 3))  # type: ignore[arg-type]
    assert store.daily("lodash", may1, may1) == {may1: 5}  # the earlier count, rows and record, untouched
    assert store.file_record(name) == FileRecord(160, 2, lines=5, downloads=5)
    store.close()


#: The schema of stores made before ``count`` recorded its files (the SQL as it was).
SCHEMA_BEFORE_COUNTED_FILES = """
CREATE TABLE IF NOT EXISTS live (
    day TEXT NOT NULL,
    package TEXT NOT NULL,
    version TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (package, day, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS backfill (
    object TEXT NOT NULL,  -- the object's id in backfill_objects: in every row, so short
    day TEXT NOT NULL,
    package TEXT NOT NULL,
    version TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (object, package, day, version)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS backfill_by_package ON backfill (package, day);
CREATE TABLE IF NOT EXISTS backfilled_days (day TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS packages (package TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS backfill_objects (
    id INTEGER PRIMARY KEY,
    object TEXT NOT NULL UNIQUE,
    -- what a backfill read, NULL for an object replaced without a record
    etag TEXT,
    size INTEGER,
    selection TEXT,
    lines INTEGER,
    downloads INTEGER,
    rejected INTEGER,
    finished TEXT
);
DROP VIEW IF EXISTS counts;
CREATE VIEW counts AS
    SELECT day, package, version, count FROM live WHERE day NOT IN (SELECT day FROM backfilled_days)
    UNION ALL
    SELECT day, package, version, count FROM backfill WHERE day IN (SELECT day FROM backfilled_days);
"""


def test_a_store_of_the_previous_schema_opens_and_counts_files(tmp_path) -> None:
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript(SCHEMA_BEFORE_COUNTED_FILES)
    with old:
        old.executemany(
            "INSERT INTO live VALUES (?, ?, ?, ?)",
            [("2024-05-01", "lodash", "1.0.0", 5), ("2024-05-02", "lodash", "1.0.0", 1)],
        )
        old.execute("INSERT INTO backfill_objects (id, object, etag, size) VALUES (1, 'cdn/2024-05-01.gz', 'e', 10)")
        old.execute("INSERT INTO backfill VALUES ('1', '2024-05-01', 'lodash', '1.0.0', 4)")
        old.execute("INSERT INTO backfilled_days VALUES ('2024-05-01')")
        old.execute("INSERT INTO packages VALUES ('lodash')")
    old.close()

    may1, may2 = dt.date(2024, 5, 1), dt.date(2024, 5, 2)
    store = Store(path)
    assert store.daily("lodash", may1, may2) == {may1: 4, may2: 1}  # what it held, answered as before
    assert store.file_record("file:///logs/a.log") is None
    store.replace_file("file:///logs/a.log", {("lodash", "1.0.0", may2): 2}, FileRecord(100, 1))
    assert store.daily("lodash", may1, may2) == {may1: 4, may2: 3}
    assert set(store.object_records()) == {"cdn/2024-05-01.gz"}
    store.close()
    reader = Store(path, read_only=True)  # as the API opens it
    assert reader.by_version("lodash", may2, may2) == {"1.0.0": 3}
    reader.close()


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("GET", "/nope", 404, "not found"),
        ("GET", "/downloads", 404, "not found"),
        ("POST", "/downloads/point/last-day/lodash", 405, "method not allowed"),
        ("DELETE", "/versions/lodash/last-week", 405, "method not allowed"),
        ("OPTIONS", "/downloads/point/last-day", 405, "method not allowed"),  # not a preflight
    ],
)
def test_every_error_is_json(client, method: str, path: str, status: int, error: str) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": error}
    if status == 405:
        assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


def test_a_failing_store_is_a_json_500(tmp_path, postgresql) -> None:
    for missing in (str(tmp_path / "missing" / "d.sqlite"), postgresql.url("no_such_database")):
        app = create_app(missing, today=lambda: TODAY)
        with TestClient(app, backend="trio", raise_server_exceptions=False) as failing:
            response = failing.get("/downloads/point/last-day/lodash", headers={"Origin": "https://stats.example"})
        assert response.status_code == 500
        assert response.json() == {"error": "internal server error"}
        assert response.headers["access-control-allow-origin"] == "*"  # so the page can read it


def test_cors_for_any_origin_by_default(client) -> None:
    page = {"Origin": "https://stats.example"}
    assert client.get("/downloads/point/last-day/lodash", headers=page).headers["access-control-allow-origin"] == "*"
    refused = client.get("/downloads/point/last-day/no-such-package", headers=page)  # errors are readable too
    assert (refused.status_code, refused.headers["access-control-allow-origin"]) == (404, "*")
    assert "access-control-allow-origin" not in client.get("/downloads/point/last-day/lodash").headers
    preflight = client.options(
        "/downloads/range/last-week/lodash",
        headers={**page, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-requested-with"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert preflight.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
    assert preflight.headers["access-control-allow-headers"] == "x-requested-with"
    assert int(preflight.headers["access-control-max-age"]) > 0


def test_cors_for_the_origins_given(tmp_path) -> None:
    open_store(str(tmp_path / "d.sqlite")).close()
    app = create_app(str(tmp_path / "d.sqlite"), today=lambda: TODAY, cors_origins=["https://a.example"])
    with TestClient(app, backend="trio") as limited:
        allowed = limited.get("/downloads/point/last-day", headers={"Origin": "https://a.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://a.example"
        assert allowed.headers["vary"] == "Origin"
        other = limited.get("/downloads/point/last-day", headers={"Origin": "https://b.example"})
        assert other.status_code == 200
        assert "access-control-allow-origin" not in other.headers
        assert other.headers["vary"] == "Origin"
        assert limited.get("/downloads/point/last-day").headers["vary"] == "Origin"
        preflight = {"Origin": "https://b.example", "Access-Control-Request-Method": "GET"}
        refused = limited.options("/downloads/point/last-day", headers=preflight)
        assert refused.status_code == 403
        assert refused.json() == {"error": "origin https://b.example not allowed"}


def test_origins_are_read_as_browsers_send_them() -> None:
    assert parse_origin("*") == "*"
    assert parse_origin("https://A.example:8443/") == "https://a.example:8443"
    for wrong in ("a.example", "https://a.example/page", "ftp://a.example", "https://a.example?x=1", ""):
        with pytest.raises(ValueError, match="not an origin"):
            parse_origin(wrong)


def test_last_day_is_yesterday_and_there_is_no_2015_floor(store_location: str) -> None:
    """Two deliberate differences from npm, documented beside the others in the README:
    the named periods end yesterday even when the store's last day with data is earlier
    (npm's end on the last day its batch has loaded), and days before 2015-01-10 (npm's
    earliest) are answered from the store."""
    path = store_location
    store = open_store(path)
    store.add_live({("lodash", "4.17.21", day(3)): 5, ("lodash", "0.1.0", dt.date(2012, 3, 4)): 2})
    store.close()
    with TestClient(create_app(path, today=lambda: TODAY), backend="trio") as old:
        assert old.get("/downloads/point/last-day/lodash").json() == {
            "downloads": 0,
            "start": day(1).isoformat(),
            "end": day(1).isoformat(),
            "package": "lodash",
        }
        assert old.get("/downloads/point/last-week/lodash").json()["downloads"] == 5
        assert old.get("/downloads/point/2012-03-04/lodash").json()["downloads"] == 2
        assert old.get("/downloads/range/2012-03-03:2012-03-04").json()["downloads"] == [
            {"day": "2012-03-03", "downloads": 0},
            {"day": "2012-03-04", "downloads": 2},
        ]
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    api = readme[readme.index("**API** (`serve`)") :].split("\n\n", 1)[0]
    assert "`last-day`" in api
    assert "yesterday" in api
    assert "2015-01-10" in api
