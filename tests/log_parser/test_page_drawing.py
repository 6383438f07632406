"""The page's pure parts, drawn at random: the chart's SVG (well-formed, every point where
its value puts it, every name escaped), the badge (well-formed, as wide as our width
table says, escaped), the short counts badges show, weekly totals and the version split."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from log_parser.page import Badge, Frame, Series, badge_svg, line_chart, short_count
from log_parser.page._badge import PADDING, count_message
from log_parser.page._escape import clean
from log_parser.page._figures import version_split, weekly_totals
from log_parser.page._html import PackageView, PageView, render_page
from log_parser.page._svg import ceiling, value_at
from log_parser.page._widths import ASCII, char_width, text_width

SVG = "{http://www.w3.org/2000/svg}"
FIRST = dt.date(2024, 1, 1)

names = st.text(min_size=1, max_size=40)  # anything: escaping must hold for every text
counts = st.integers(min_value=0, max_value=10**12)


@st.composite
def charts(draw: st.DrawFn) -> tuple[list[dt.date], list[Series]]:
    n_days = draw(st.integers(min_value=1, max_value=120))
    start = draw(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2090, 1, 1)))
    days = [start + dt.timedelta(days=i) for i in range(n_days)]
    n_series = draw(st.integers(min_value=0, max_value=5))
    series = [Series(draw(names), draw(st.lists(counts, min_size=n_days, max_size=n_days))) for _ in range(n_series)]
    return days, series


@given(charts())
@settings(max_examples=80, deadline=None)
def test_every_point_of_the_chart_maps_back_to_its_value(chart: tuple[list[dt.date], list[Series]]) -> None:
    days, series = chart
    frame = Frame()
    root = ET.fromstring(line_chart(days, series, frame=frame))  # well-formed XML, whatever the names
    top = int(root.get("data-top") or 0)
    highest = max((max(s.values) for s in series), default=0)
    assert top >= max(highest, 1)
    assert top < max(highest, 1) * 2  # a round ceiling, not far above
    lines = root.findall(f"{SVG}polyline")
    assert [line.get("data-package") for line in lines] == [clean(s.name) for s in series]
    for line, one in zip(lines, series, strict=True):
        points = [tuple(map(float, point.split(","))) for point in (line.get("points") or "").split()]
        assert len(points) == len(days)
        xs = [x for x, _ in points]
        assert xs == sorted(xs)
        assert frame.left <= xs[0]
        assert xs[-1] <= frame.width - frame.right
        for (_, y), value in zip(points, one.values, strict=True):
            # two decimals of a unit: a value within top / plot height / 100 of its own
            assert value_at(y, top, frame) == pytest.approx(value, abs=top * 0.006 / frame.plot_height + 1e-9)
            assert frame.top - 0.01 <= y <= frame.height - frame.bottom + 0.01
    title = root.find(f"{SVG}title")
    assert title is not None
    assert days[0].isoformat() in (title.text or "")


def test_the_chart_refuses_what_it_cannot_draw() -> None:
    day = [FIRST]
    with pytest.raises(ValueError, match="values for"):
        line_chart(day, [Series("a", [1, 2])])
    with pytest.raises(ValueError, match="never negative"):
        line_chart(day, [Series("a", [-1])])
    with pytest.raises(ValueError, match="at most 5"):
        line_chart(day, [Series(str(i), [1]) for i in range(6)])
    with pytest.raises(ValueError, match="one day"):
        line_chart([], [])


@given(st.integers(min_value=0, max_value=10**15))
def test_the_axis_ceiling_is_round_and_holds_the_highest_value(highest: int) -> None:
    top = ceiling(highest)
    assert top >= max(highest, 1)
    assert re.fullmatch(r"[1234568]0*", str(top))
    assert top == 1 or top < 2 * highest


@given(names, names, st.sampled_from(["#007ec6", "#9f9f9f"]))
def test_a_badge_is_well_formed_escaped_and_as_wide_as_its_texts(label: str, message: str, colour: str) -> None:
    badge = Badge(label, message, colour)
    root = ET.fromstring(badge_svg(badge))
    texts = {element.get("class"): element for element in root.iter(f"{SVG}text")}
    assert (texts["label"].text or "") == clean(label)
    assert (texts["message"].text or "") == clean(message)
    label_width = text_width(clean(label), 11) + 2 * PADDING
    message_width = text_width(clean(message), 11) + 2 * PADDING
    assert float(root.get("width") or 0) == pytest.approx(label_width + message_width, abs=0.11)
    assert float(texts["label"].get("textLength") or 0) == pytest.approx(label_width - 2 * PADDING, abs=0.11)
    # the message's half starts where the label's ends, and each text is centred in its half
    left, right = (
        {k: float(v) for k, v in rect.attrib.items() if k in ("x", "width")} for rect in root.iter(f"{SVG}rect")
    )
    assert left["width"] == pytest.approx(label_width, abs=0.06)
    assert right["width"] == pytest.approx(message_width, abs=0.06)
    assert right["x"] == left["width"]
    assert float(texts["label"].get("x") or 0) == pytest.approx(left["width"] / 2, abs=0.06)
    assert float(texts["message"].get("x") or 0) == pytest.approx(right["x"] + right["width"] / 2, abs=0.06)
    assert root.get("aria-label") == f"{clean(label)}: {clean(message)}"


def test_the_width_table_is_measured_not_guessed() -> None:
    """Narrow letters are narrower than wide ones, digits share one width (tabular), and
    text outside ASCII is never measured as nothing."""
    assert len(ASCII) == 126 - 32 + 1
    assert char_width("i") < char_width("n") < char_width("m") < char_width("W")
    assert len({char_width(d) for d in "0123456789"}) == 1
    assert char_width("中") == 1000
    assert char_width("é") > 0
    assert char_width("\u0301") == 0  # a combining accent adds no width
    assert text_width("downloads", 11) == pytest.approx(sum(map(char_width, "downloads")) * 11 / 1000)


@given(st.integers(min_value=0, max_value=10**15))
def test_a_short_count_never_overstates_and_keeps_three_figures(n: int) -> None:
    text = short_count(n)
    match = re.fullmatch(r"([0-9]+(?:\.[0-9])?)([kMGT]?)", text)
    assert match is not None, text
    number, unit = float(match[1]), {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}[match[2]]
    assert number * unit <= n  # rounded down: never more than there were
    assert n < (number + (0.1 if "." in match[1] or number < 10 else 1)) * unit  # and at most one step below
    assert len(match[1].replace(".", "")) <= 3 or unit == 10**12


def test_badge_messages_name_the_period() -> None:
    assert count_message(1234, "last-week") == "1.2k/week"
    assert count_message(5, "last-day") == "5/day"
    assert count_message(2_000_000, "all-time") == "2M"
    assert count_message(999, "2024-01-01:2024-01-31") == "999"


@given(
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2090, 1, 1)),
    st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=400),
)
def test_weekly_totals_are_calendar_weeks_that_add_up(start: dt.date, values: list[int]) -> None:
    days = [start + dt.timedelta(days=i) for i in range(len(values))]
    weeks = weekly_totals(days, values)
    assert sum(week.downloads for week in weeks) == sum(values)
    assert sum(week.days for week in weeks) == len(days)
    assert all(week.monday.weekday() == 0 for week in weeks)
    assert [w.monday for w in weeks] == sorted({d - dt.timedelta(days=d.weekday()) for d in days})
    assert all(week.days == 7 for week in weeks[1:-1])
    for week in weeks:
        inside = [v for d, v in zip(days, values, strict=True) if week.monday <= d < week.monday + dt.timedelta(7)]
        assert week.downloads == sum(inside)


@given(st.lists(st.integers(min_value=1, max_value=10**9), max_size=10), st.integers(min_value=0, max_value=10**9))
def test_the_version_split_adds_up_to_the_total(top_counts: list[int], rest: int) -> None:
    top = [(f"1.0.{i}", n) for i, n in enumerate(sorted(top_counts, reverse=True))]
    total = sum(top_counts) + rest
    shares = version_split(top, total)
    assert sum(share.downloads for share in shares) == total
    assert [s.version for s in shares[: len(top)]] == [v for v, _ in top]
    assert [s.version for s in shares[len(top) :]] == ([""] if rest else [])
    if total:
        assert sum(share.percent for share in shares) == pytest.approx(100)


class Tags(HTMLParser):
    """The tags of a document, in order, and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.data: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.data.append(data)


def page_of(name: str, query: str) -> str:
    values = [3, 0, 5]
    days = [FIRST + dt.timedelta(days=i) for i in range(3)]
    view = PageView(
        query=query,
        start=days[0],
        end=days[-1],
        today=FIRST + dt.timedelta(days=5),
        refresh_seconds=30,
        packages=[PackageView(name, values, weekly_totals(days, values), version_split([("1.0.0", 8)], 8), 2)],
        missing=[query],
        suggestions=[name],
    )
    return render_page(view)


@given(names, st.text(min_size=1, max_size=30))
@settings(max_examples=80, deadline=None)
def test_the_page_escapes_every_name_and_query(name: str, query: str) -> None:
    """Whatever a name or the search box holds, it comes out as text, never as markup:
    the page has the same tags as for a plain name, and shows the name as it is."""
    page = page_of(name, query)
    drawn, plain = Tags(), Tags()
    drawn.feed(page)
    plain.feed(page_of("plain", "query"))
    assert drawn.tags == plain.tags
    shown = "".join(drawn.data)
    assert clean(name).strip() in shown
    svg = page[page.index("<svg xmlns") : page.index("</svg>", page.index('class="chart"')) + len("</svg>")]
    root = ET.fromstring(svg)
    assert [line.get("data-package") for line in root.iter(f"{SVG}polyline")] == [clean(name)]
