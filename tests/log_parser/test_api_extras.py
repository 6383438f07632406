"""The API beyond npm's contract, and npm's contract kept beside it: caching (ETag,
Cache-Control, 304), ``all-time``, ranges past 18 months when the store holds the data,
the badge, and the page's answers as HTTP (its drawing is tested in
test_page_drawing.py, the page in a browser in test_page_browser.py)."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from log_parser._api import create_app
from log_parser._caching import CachePolicy, not_modified
from log_parser.cli import build_parser
from log_parser.store import Store

TODAY = dt.date(2024, 5, 10)
SVG = "{http://www.w3.org/2000/svg}"


def day(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "d.sqlite"
    store = Store(path)
    counts = {}
    for n in range(1, 601):  # lodash: 600 days of 10 a day; its first day is day(600)
        counts[("lodash", "4.17.21", day(n))] = 10
    for n in range(1, 8):
        counts[("@babel/core", "7.24.0", day(n))] = n  # 1..7: 28 in the last week
        counts[("@babel/core", "7.23.0", day(n))] = 1
    counts[("lodash", "4.17.21", TODAY)] = 4  # today's live count
    store.add_live(counts)
    store.close()
    return path


@pytest.fixture
def client(db: Path):
    app = create_app(str(db), today=lambda: TODAY, cache=CachePolicy(max_age=300, live_max_age=30))
    with TestClient(app, backend="trio") as test_client:
        yield test_client


def test_an_answer_carries_an_etag_and_a_conditional_request_gets_304(client, db: Path) -> None:
    first = client.get("/downloads/point/last-week/lodash")
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    again = client.get("/downloads/point/last-week/lodash", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == first.headers["cache-control"]
    for listed in (f'"nope", {etag}', f"W/{etag}", "*"):
        assert client.get("/downloads/point/last-week/lodash", headers={"If-None-Match": listed}).status_code == 304
    assert client.get("/downloads/point/last-week/lodash", headers={"If-None-Match": '"nope"'}).status_code == 200
    # another answer, another tag
    assert client.get("/downloads/point/last-day/lodash").headers["etag"] != etag


def test_the_etag_changes_when_the_days_data_changes(client, db: Path) -> None:
    path = f"/downloads/range/{TODAY.isoformat()}/lodash"
    before = client.get(path).headers["etag"]
    assert client.get(path).headers["etag"] == before  # the same data, the same tag
    store = Store(db)
    store.add_live({("lodash", "4.17.21", TODAY): 1})  # a live flush
    store.close()
    after = client.get(path, headers={"If-None-Match": before})
    assert after.status_code == 200
    assert after.json()["downloads"] == [{"day": TODAY.isoformat(), "downloads": 5}]
    assert after.headers["etag"] != before
    store = Store(db)
    store.replace_object("cdn/x.gz", {("lodash", "4.17.21", day(3)): 99})  # a backfill of a past day
    store.close()
    week = "/downloads/point/last-week/lodash"
    assert client.get(week).json()["downloads"] == 60 + 99
    assert client.get(week, headers={"If-None-Match": before}).status_code == 200


def test_cache_control_is_short_for_answers_with_today_and_longer_for_past_days(client) -> None:
    assert client.get("/downloads/point/last-week/lodash").headers["cache-control"] == "public, max-age=300"
    today = client.get(f"/downloads/point/{day(3).isoformat()}:{TODAY.isoformat()}/lodash")
    assert today.headers["cache-control"] == "public, max-age=30"
    assert client.get("/versions/lodash/last-week").headers["cache-control"] == "public, max-age=300"
    bulk = client.get(f"/downloads/point/{TODAY.isoformat()}/lodash,nope")
    assert bulk.headers["cache-control"] == "public, max-age=30"
    error = client.get("/downloads/point/last-week/nope")
    assert error.status_code == 404
    assert error.headers["cache-control"] == "no-cache"
    assert "etag" not in error.headers


def test_not_modified_reads_if_none_match_as_rfc_9110_says() -> None:
    assert not_modified('"a"', '"a"')
    assert not_modified('W/"a"', '"a"')
    assert not_modified(' "b" , "a" ', '"a"')
    assert not_modified("*", '"a"')
    assert not not_modified('"ab"', '"a"')
    assert not not_modified(None, '"a"')
    assert not not_modified("", '"a"')


def test_all_time_from_the_first_day_to_today(client) -> None:
    assert client.get("/downloads/point/all-time/lodash").json() == {
        "downloads": 600 * 10 + 4,
        "start": day(600).isoformat(),
        "end": TODAY.isoformat(),
        "package": "lodash",
    }
    babel = client.get("/downloads/range/all-time/@babel/core").json()
    assert babel["start"] == day(7).isoformat()
    assert [d["downloads"] for d in babel["downloads"]] == [8, 7, 6, 5, 4, 3, 2, 0]  # today: none yet
    assert client.get("/downloads/point/all-time").json()["start"] == day(600).isoformat()
    bulk = client.get("/downloads/point/all-time/lodash,@babel/core,nope").json()
    assert bulk["@babel/core"]["downloads"] == 35
    assert bulk["lodash"]["start"] == day(600).isoformat()  # each package from its own first day
    assert bulk["nope"] is None
    assert client.get("/versions/@babel%2Fcore/all-time").json()["downloads"] == {"7.24.0": 28, "7.23.0": 7}


def test_a_range_past_18_months_is_answered_when_the_store_holds_its_days(client) -> None:
    held = client.get(f"/downloads/range/{day(600).isoformat()}:{day(1).isoformat()}/lodash")
    assert held.status_code == 200
    assert len(held.json()["downloads"]) == 600
    assert sum(d["downloads"] for d in held.json()["downloads"]) == 6000
    # one day earlier than anything in the store: npm's limit and npm's error
    before = client.get(f"/downloads/range/{day(601).isoformat()}:{day(1).isoformat()}/lodash")
    assert (before.status_code, before.json()) == (400, {"error": "exceeded max days of 548"})
    # bulk lookups keep npm's 365 days
    bulk = client.get(f"/downloads/point/{day(400).isoformat()}:{day(1).isoformat()}/lodash,@babel/core")
    assert bulk.json() == {"error": "exceeded max days of 365"}


def test_the_longest_range_is_bounded(db: Path) -> None:
    app = create_app(str(db), today=lambda: TODAY, max_range_days=550)
    with TestClient(app, backend="trio") as bounded:
        answer = bounded.get(f"/downloads/point/{day(600).isoformat()}:{day(1).isoformat()}/lodash")
        assert (answer.status_code, answer.json()) == (400, {"error": "exceeded max days of 550"})
    with pytest.raises(ValueError, match="548"):
        create_app(str(db), max_range_days=100)


def test_npm_periods_and_shapes_are_unchanged(client) -> None:
    """npm's contract beside the extras: its named periods, its shapes, its limits."""
    assert client.get("/downloads/point/last-day/lodash").json() == {
        "downloads": 10,
        "start": day(1).isoformat(),
        "end": day(1).isoformat(),
        "package": "lodash",
    }
    assert client.get("/downloads/range/last-year/lodash").status_code == 200
    assert client.get("/downloads/point/all-time/nope").json() == {"error": "package nope not found"}
    assert client.get("/downloads/point/all-times/lodash").json() == {"error": "invalid date"}


def badge(client, path: str) -> tuple[int, ET.Element, dict[str, str]]:
    answer = client.get(path)
    assert answer.headers["content-type"] == "image/svg+xml"
    return answer.status_code, ET.fromstring(answer.text), dict(answer.headers)


def badge_texts(root: ET.Element) -> dict[str | None, str | None]:
    return {element.get("class"): element.text for element in root.iter(f"{SVG}text")}


def test_the_badge_counts_downloads_of_the_period(client) -> None:
    status, root, headers = badge(client, "/badge/@babel/core/last-week.svg")
    assert status == 200
    assert badge_texts(root) == {"label": "downloads", "message": "35/week"}
    assert headers["cache-control"] == "public, max-age=300"
    assert client.get("/badge/@babel/core/last-week.svg", headers={"If-None-Match": headers["etag"]}).status_code == 304
    assert badge_texts(badge(client, "/badge/lodash/last-year.svg")[1])["message"] == "3.6k/year"
    assert badge_texts(badge(client, "/badge/lodash/all-time.svg")[1])["message"] == "6k"
    assert badge_texts(badge(client, "/badge/@babel%2Fcore/last-day.svg")[1])["message"] == "2/day"
    labelled = badge(client, "/badge/lodash/last-day.svg?label=%3Cb%3Ed%26l%22")[1]
    assert badge_texts(labelled)["label"] == '<b>d&l"'  # escaped in the SVG, read back as it was


def test_a_badge_that_cannot_count_says_why(client) -> None:
    status, root, _ = badge(client, "/badge/nope/last-week.svg")
    assert (status, badge_texts(root)["message"]) == (404, "package not found")
    status, root, _ = badge(client, "/badge/lodash/2024-02-30.svg")
    assert (status, badge_texts(root)["message"]) == (400, "invalid date")


def test_the_page_and_its_script_are_served_with_caching(client) -> None:
    page = client.get("/?package=lodash")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "public, max-age=30"  # it shows today's count
    assert client.get("/?package=lodash", headers={"If-None-Match": page.headers["etag"]}).status_code == 304
    script = client.get("/page/live.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "downloads/point/" in script.text
    assert '<script src="page/live.js" defer></script>' in page.text
    assert "http://" not in page.text.replace("http://www.w3.org/2000/svg", "")  # nothing fetched from elsewhere
    assert "https://" not in page.text


def test_the_page_says_what_it_cannot_show(client) -> None:
    too_many = client.get("/?package=a,b,c,d,e,f").text
    assert "At most 5 packages on one chart" in too_many
    bad = client.get("/?package=lodash&period=2024-02-30").text
    assert "2024-02-30: invalid date; last month shown." in bad
    assert f"Daily downloads, {day(30).isoformat()} to {day(1).isoformat()}" in bad
    missing = client.get("/?package=%40bab").text
    assert "No package named @bab has downloads here." in missing
    assert ">@babel/core</a>" in missing  # suggested
    hostile = client.get("/?package=%3Cscript%3Ealert(1)%3C%2Fscript%3E").text
    assert "<script>alert" not in hostile
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile


@pytest.mark.parametrize(
    "bad",
    [
        ["--max-range-days", "100"],  # below npm's 548
        ["--max-range-days", "many"],
        ["--max-age", "-1"],
        ["--live-max-age", "1.5"],
        ["--page-refresh", "0"],
    ],
)
def test_serve_refuses_bounds_that_make_no_sense(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["serve", *bad])
    assert exit_.value.code == 2
    assert bad[0] in capsys.readouterr().err


def test_serve_takes_its_bounds() -> None:
    args = build_parser().parse_args(
        ["serve", "--max-age", "0", "--live-max-age", "5", "--max-range-days", "548", "--page-refresh", "2"]
    )
    assert (args.max_age, args.live_max_age, args.max_range_days, args.page_refresh) == (0, 5, 548, 2)
