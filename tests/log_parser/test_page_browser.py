"""The downloads page in a real browser: a real ``numbat-logs serve`` on 127.0.0.1 over a
store of known counts, and Debian's headless Chromium reading it as a person would: the
numbers shown, the chart's points, the weekly totals, the split by version, a comparison,
a search for a scoped package with the keyboard alone, today's count brought up to date,
and the page at 375 px and at a desktop width (screenshots kept as test artifacts: in
``$NUMBAT_TEST_ARTIFACTS`` when set, else in pytest's temporary folder). The server's today
is a fixed day handed to it, not the wall clock's: the tests hold across midnight UTC."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from log_parser import Store

from ..processes import terminate
from ..waiting import wait_for
from .chromium import headless_chromium
from .test_api_server import start_server

#: The server's today, handed to it (serve_on_day.py): the wall clock's day is not it, so a
#: page that took its day from the clock shows, and a run crossing midnight UTC changes nothing.
#: Two month ends and a leap day among the days held.
TODAY = dt.date(2024, 3, 15)
DAYS_HELD = 60


def day(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


def known_counts() -> dict[tuple[str, str, dt.date], int]:
    """What the store holds: a different number every day, so a point in the wrong place
    or a day shifted by one shows."""
    counts = {}
    for n in range(1, DAYS_HELD + 1):
        counts[("lodash", "4.17.21", day(n))] = 100 + 3 * n
        counts[("lodash", "4.17.20", day(n))] = 10 + n % 4
        if n % 5 == 0:
            counts[("lodash", "3.10.1", day(n))] = 2
        counts[("express", "4.19.2", day(n))] = 40 * (n % 3)
        counts[("@babel/core", "7.24.0", day(n))] = n
    counts[("lodash", "4.17.21", TODAY)] = 7  # today's live count so far
    return counts


COUNTS = known_counts()


def expected(package: str, days: list[dt.date]) -> list[int]:
    return [sum(n for (p, _, d), n in COUNTS.items() if p == package and d == one) for one in days]


def days_from(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("page") / "d.sqlite"
    store = Store(path)
    store.add_live(COUNTS)
    store.close()
    return path


@pytest.fixture(scope="module")
def base(db: Path) -> Iterator[str]:
    server, port = start_server(db, "--page-refresh", "1", today=TODAY)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        terminate(server)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with headless_chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


@pytest.fixture
def page(browser: Any, base: str) -> Any:
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    def load(**query: str) -> Any:
        browser.get(base + ("?" + urlencode(query) if query else ""))
        return browser

    return load


def number(text: str) -> int:
    return int(text.replace(",", ""))


def table_rows(browser: Any, css: str) -> list[list[str]]:
    """The cells of each body row of a table, as shown (hidden ones read as text too)."""
    rows = browser.find_elements(By.CSS_SELECTOR, f"{css} tbody tr")
    return [
        [cell.get_attribute("textContent") for cell in row.find_elements(By.CSS_SELECTOR, "th, td")] for row in rows
    ]


def chart_values(browser: Any) -> dict[str, list[float]]:
    """Each line's points read back into values, by the axis the browser shows: the y of
    the label "0" and of the top label, whose value is the chart's ``data-top``."""
    chart = browser.find_element(By.CSS_SELECTOR, "svg.chart")
    top = int(chart.get_attribute("data-top"))
    labels = chart.find_elements(By.CSS_SELECTOR, "text.y-label")
    y_zero = float(next(label for label in labels if label.text == "0").get_attribute("y"))
    y_top = min(float(label.get_attribute("y")) for label in labels)
    lines = {}
    for line in chart.find_elements(By.CSS_SELECTOR, "polyline.series"):
        points = [tuple(map(float, p.split(","))) for p in line.get_attribute("points").split()]
        xs = [x for x, _ in points]
        steps = [b - a for a, b in itertools.pairwise(xs)]
        assert max(steps, default=0) - min(steps, default=0) <= 0.02, "days are evenly spaced, in order"
        assert min(steps, default=1) > 0
        lines[line.get_attribute("data-package")] = [top * (y_zero - y) / (y_zero - y_top) for _, y in points]
    return lines


def test_the_page_shows_the_stores_numbers_and_draws_them(page: Any) -> None:
    start, end = day(14), day(1)
    days = days_from(start, end)
    browser = page(package="lodash", start=start.isoformat(), end=end.isoformat())
    want = expected("lodash", days)
    assert browser.find_element(By.ID, "daily-heading").text == f"Daily downloads, {start} to {end}"
    rows = table_rows(browser, "#chart-table")
    assert [(row[0], number(row[1])) for row in rows] == [(d.isoformat(), n) for d, n in zip(days, want, strict=True)]
    total = browser.find_element(By.CSS_SELECTOR, "#chart-table tfoot td").get_attribute("textContent")
    assert number(total) == sum(want)
    drawn = chart_values(browser)
    assert list(drawn) == ["lodash"]
    assert drawn["lodash"] == pytest.approx(want, abs=0.5)

    # weekly totals: calendar weeks, Monday first, summed here from the known counts
    weeks: dict[dt.date, int] = {}
    for one, n in zip(days, want, strict=True):
        monday = one - dt.timedelta(days=one.weekday())
        weeks[monday] = weeks.get(monday, 0) + n
    shown = [(row[0].split()[0], number(row[1])) for row in table_rows(browser, "#weekly-table")]
    assert shown == [(monday.isoformat(), n) for monday, n in weeks.items()]

    # the split by version, most first, with its share
    by_version: dict[str, int] = {}
    for (p, version, d), n in COUNTS.items():
        if p == "lodash" and start <= d <= end:
            by_version[version] = by_version.get(version, 0) + n
    split = [(row[0], number(row[1]), row[2]) for row in table_rows(browser, 'table.versions[data-package="lodash"]')]
    assert split == [
        (version, n, f"{100 * n / sum(want):.1f}%")
        for version, n in sorted(by_version.items(), key=lambda item: -item[1])
    ]


def test_a_comparison_of_three_packages_on_one_chart(page: Any) -> None:
    start, end = day(21), day(1)
    days = days_from(start, end)
    browser = page(package="lodash, express,@babel/core", start=start.isoformat(), end=end.isoformat())
    drawn = chart_values(browser)
    assert list(drawn) == ["lodash", "express", "@babel/core"]
    for name, values in drawn.items():
        assert values == pytest.approx(expected(name, days), abs=1.5), name
    legend = [item.text for item in browser.find_elements(By.CSS_SELECTOR, ".legend li")]
    assert legend == [f"{name}: {sum(expected(name, days)):,}" for name in drawn]
    header = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#weekly-table thead th")]
    assert header == ["Week of", "lodash", "express", "@babel/core"]
    dashes = [line.get_attribute("stroke-dasharray") for line in browser.find_elements(By.CSS_SELECTOR, "polyline")]
    assert len(set(dashes)) == 3  # told apart without colour too


def test_a_scoped_package_found_with_the_keyboard_alone(page: Any) -> None:
    browser = page()
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)  # the search box is the first stop
    search = browser.switch_to.active_element
    assert search.get_attribute("id") == "package"
    search.send_keys("@babel/co")
    search.send_keys(Keys.ENTER)
    assert wait_for(lambda: "package=%40babel%2Fco" in browser.current_url, 10)
    assert "No package named @babel/co has downloads here." in browser.page_source
    suggestion = browser.find_element(By.CSS_SELECTOR, ".suggestions a")
    assert suggestion.text == "@babel/core"
    suggestion.send_keys(Keys.ENTER)  # a link taken with Enter
    assert wait_for(lambda: browser.find_elements(By.ID, "daily-heading"), 10)
    days = days_from(day(30), day(1))  # last month by default
    assert browser.find_element(By.ID, "daily-heading").text == f"Daily downloads, {day(30)} to {day(1)}"
    rows = table_rows(browser, "#chart-table")
    assert [number(row[1]) for row in rows] == expected("@babel/core", days)
    assert chart_values(browser)["@babel/core"] == pytest.approx(expected("@babel/core", days), abs=0.5)
    split = table_rows(browser, 'table.versions[data-package="@babel/core"]')
    assert [(row[0], number(row[1]), row[2]) for row in split] == [("7.24.0", sum(range(1, 31)), "100.0%")]


def test_todays_count_is_brought_up_to_date(page: Any, db: Path) -> None:
    browser = page(package="lodash")
    live = browser.find_element(By.CSS_SELECTOR, 'output.live[data-package="lodash"]')
    assert live.text == "7"
    store = Store(db)
    store.add_live({("lodash", "4.17.21", TODAY): 1200})  # a live flush while the page is open
    store.close()
    assert wait_for(lambda: live.text == "1,207", 10), live.text  # refreshed every second (--page-refresh 1)
    assert live.get_attribute("data-updated")


def screenshots_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    named = os.environ.get("NUMBAT_TEST_ARTIFACTS")
    folder = Path(named) if named else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("screen", [(375, 812, True), (1280, 900, False)], ids=["375px", "1280px"])
def test_the_page_reads_at_phone_and_desktop_widths(
    browser: Any, base: str, tmp_path_factory: pytest.TempPathFactory, screen: tuple[int, int, bool]
) -> None:
    width, height, mobile = screen
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        query = {"package": "lodash,express,@babel/core", "start": day(30).isoformat(), "end": day(1).isoformat()}
        browser.get(base + "?" + urlencode(query))
        page_width = browser.execute_script("return document.documentElement.scrollWidth")
        assert page_width <= width, "nothing wider than the screen: wide tables scroll in their own box"
        chart = browser.find_element(By.CSS_SELECTOR, "svg.chart").rect
        assert width * 0.8 <= chart["width"] <= width or not mobile  # the chart fills a phone's width
        assert chart["height"] > 100
        font = browser.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)")
        assert font >= 14
        shot = screenshots_folder(tmp_path_factory) / f"downloads-page-{width}px.png"
        assert browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
