"""The prometheus sink's page: whatever names, labels and values arrive, it is valid text
format (our grammar check, and the real promtool over every drawn page), and it says
what was sent. Property-based: names and label values are drawn from all of Unicode,
quotes, backslashes and newlines included; values from all floats, NaN and infinities
included."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from collector.sinks.prometheus._text import bound, help_text, label_name, label_value, metric_name, number

from .exposition import absorb, check_page, parse_page, prometheus_sink, promtool_check_all, unescape

OWN = {"name", "value", "time", "statsd_type", "rate", "gauge_delta", "description", "ttl"}
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
ugly = st.one_of(texts, st.sampled_from(['a"b', "a\\b", "a\nb", "a\\nb", "9x", "__x", "le", "quantile", "a.b", ""]))
field_values = st.one_of(ugly, st.integers(-(2**53), 2**53), st.floats(allow_nan=False), st.booleans())
values = st.one_of(st.floats(), st.integers(-(2**53), 2**53), st.booleans())
fields = st.dictionaries(ugly.filter(lambda key: key not in OWN), field_values, max_size=4)


@st.composite
def events(draw: st.DrawFn, typed: bool = True) -> dict[str, Any]:
    event: dict[str, Any] = {"name": draw(ugly), **draw(fields), "value": draw(values), "time": 0}
    if typed:
        statsd = draw(st.sampled_from([None, "c", "g", "ms", "h", "d", "s"]))
        if statsd is not None:
            event["statsd_type"] = statsd
            if statsd in ("c", "ms") and draw(st.booleans()):
                event["rate"] = draw(st.sampled_from([0.5, 0.1, 1.0]))
    return event


RULES = [
    {"match": "*.*", "name": "two_$1", "labels": {"second": "$2"}, "observer_type": "histogram", "ttl": 5},
    {"match": "^(.)(.*)$", "match_type": "regex", "name": "one_$1", "labels": {"rest": "$2"}, "metric_type": "counter"},
]


def test_pages_of_any_events_are_valid_and_promtool_finds_nothing_but_style() -> None:
    """Events of every type, under rules whose captures carry anything into names and
    labels: each page passes the grammar check; then promtool reads all of them at once."""
    pages: list[bytes] = []

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(events(), max_size=12), st.booleans(), st.floats(0, 20))
    def draw_pages(drawn: list[dict[str, Any]], mapped: bool, later: float) -> None:
        sink = prometheus_sink(mappings=RULES if mapped else [], max_series=8)
        absorb(sink, drawn, now=0.0)
        page = sink.render(later)  # later: some series have expired, some summaries' windows aged
        check_page(page)
        pages.append(page)

    draw_pages()
    assert promtool_check_all(pages) == []


stats = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
counts = st.floats(min_value=0, max_value=1e9)


@st.composite
def summaries(draw: st.DrawFn) -> dict[str, Any]:
    """An aggregation's summary of any kind, with any key fields, percentiles and bins."""
    kind = draw(st.sampled_from(["counter", "gauge", "set", "timer", "bogus"]))
    keys = draw(st.dictionaries(ugly.filter(lambda key: key not in OWN | {"kind", "count", "sum"}), ugly, max_size=3))
    event: dict[str, Any] = {"name": draw(ugly), "time": 0, "kind": kind, **keys, "count": draw(counts)}
    if kind == "gauge":
        event["value"] = draw(stats)
    if kind == "timer":
        event["sum"] = draw(stats)
        event["median"] = draw(stats)
        for percent in draw(st.lists(st.sampled_from(["90", "99_9", "50", "100", "top5", "1e-7"]), max_size=3)):
            event[f"upper_{percent}"] = draw(stats)
        for upper in draw(st.lists(st.sampled_from(["100", "0_5", "inf", "-5", "1e-7"]), max_size=4)):
            event[f"bin_{upper}"] = draw(counts)
    return event


#: Bins whose sum, added up in the buckets' order, and the count, added up flush by flush,
#: round apart in the last digit: the page's +Inf bucket and _count must still be equal.
ROUNDED_APART = [
    {"name": "", "time": 0, "kind": "counter", "count": 0.0},
    {"name": "0", "time": 0, "kind": "timer", "count": 0.0, "sum": 0.0, "median": 0.0, "bin_0_5": 268435456.0},
    {"name": "0", "time": 0, "kind": "timer", "count": 0.0, "sum": 0.0, "median": 0.0, "bin_100": 1.772808849811554},
]


def test_pages_of_an_aggregations_summaries_are_valid() -> None:
    pages: list[bytes] = []

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(summaries(), max_size=10), st.sampled_from(["summary", "histogram"]))
    @example(drawn=ROUNDED_APART, observer="histogram")
    def draw_pages(drawn: list[dict[str, Any]], observer: str) -> None:
        sink = prometheus_sink(input="10s", observer_type=observer, max_series=8)
        absorb(sink, drawn, now=0.0)
        absorb(sink, drawn, now=1.0)  # a second flush of the same series adds up
        page = sink.render(1.0)
        check_page(page)
        pages.append(page)

    draw_pages()
    assert promtool_check_all(pages) == []


def reference_metric_name(text: str) -> str:
    """The documented rule, written again: every character but [A-Za-z0-9_] is _, and a
    leading digit gets a _ before it."""
    name = "".join(c if (c.isascii() and (c.isalnum() or c == "_")) else "_" for c in text)
    return "_" + name if name[:1].isdigit() else name


def reference_label_name(text: str) -> str:
    return re.sub(r"^__+", "_", reference_metric_name(text))


def reference_label_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


@settings(max_examples=150, deadline=None)
@given(st.lists(events(typed=False), max_size=15))
def test_gauges_say_the_last_value_sent_per_label_set(drawn: list[dict[str, Any]]) -> None:
    """Untyped events are gauges: each series (its name made valid, its fields as labels)
    reads the value last sent to it, NaN and infinities included."""
    sink = prometheus_sink()
    skipped = absorb(sink, drawn)
    expected: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for event in drawn:
        name = reference_metric_name(event["name"])
        if not name:
            continue
        labels: dict[str, str] = {}
        for key, value in event.items():
            if key not in OWN and (label := reference_label_name(key)):
                labels.setdefault(label, reference_label_text(value))
        expected[(name, frozenset((k, v) for k, v in labels.items() if v))] = float(event["value"])
    page = sink.render(0.0)
    check_page(page)
    got = parse_page(page)
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == value or (math.isnan(value) and math.isnan(got[key]))
    assert sum(skipped.values()) == sum(1 for event in drawn if not reference_metric_name(event["name"]))


@given(st.one_of(st.floats(), st.integers(-(2**60), 2**60).map(float)))
def test_a_number_reads_back_as_itself(value: float) -> None:
    text = number(value)
    back = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}.get(text)
    back = float(text) if back is None else back
    assert back == value or (math.isnan(value) and math.isnan(back))
    if math.isfinite(value):  # a bucket's le, a quantile: Go's spelling, the same float
        assert float(bound(value)) == value
        assert bound(value) == go_format_float(value)


def go_format_float(value: float) -> str:
    """Go's strconv.FormatFloat(value, 'g', -1, 64), from its definition: the shortest
    digits that read back (Python's repr finds the same), with an exponent when the
    decimal exponent is below -4 or at least 6 (Go's rule for the shortest form),
    written with a sign and at least two digits."""
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    shortest = Decimal(repr(abs(value)))
    digits = "".join(map(str, shortest.as_tuple().digits)).rstrip("0")
    exp = shortest.adjusted()
    sign = "-" if value < 0 else ""
    if exp < -4 or exp >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp >= 0:
        whole, rest = digits[: exp + 1].ljust(exp + 1, "0"), digits[exp + 1 :]
        return f"{sign}{whole}{'.' + rest if rest else ''}"
    return f"{sign}0.{'0' * (-exp - 1)}{digits}"


@given(st.text())
def test_names_are_made_valid_and_valid_names_are_kept(text: str) -> None:
    name = metric_name(text)
    assert name == reference_metric_name(text)
    assert name == "" or re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", name)
    assert metric_name(name) == name
    label = label_name(text)
    assert label == "" or (re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", label) and not label.startswith("__"))


@given(st.text(st.one_of(st.characters(), st.characters(categories=["Cs"]))))
def test_label_values_and_help_escape_and_read_back(text: str) -> None:
    escaped = label_value(text)
    assert "\n" not in escaped
    assert re.fullmatch(r'(?:[^"\\\n]|\\\\|\\"|\\n)*', escaped)
    assert unescape(escaped) == re.sub("[\ud800-\udfff]", "\ufffd", text)
    helped = help_text(text)
    assert "\n" not in helped
    assert re.fullmatch(r"(?:[^\\\n]|\\\\|\\n)*", helped)


def test_a_lone_surrogate_becomes_a_replacement_character() -> None:
    sink = prometheus_sink()
    absorb(sink, [{"name": "x", "value": 1, "time": 0, "label": "a\udcffb"}])
    page = sink.render(0.0)
    check_page(page)
    assert parse_page(page) == {("x", frozenset({("label", "a\ufffdb")})): 1.0}


def test_the_checks_find_what_is_wrong() -> None:
    """The grammar check and the promtool harness catch broken pages (else the tests
    above would pass on anything)."""
    good = b'# HELP x_total x\n# TYPE x_total counter\nx_total{a="1"} 1\n'
    broken = {
        b'# HELP x x\n# TYPE x gauge\nx{a="1\\q"} 1\n': "invalid escape",
        b"# HELP x x\n# TYPE x gauge\nx 1\n# HELP x x\n# TYPE x gauge\nx 2\n": "",
        b"# HELP x x\n# TYPE x counter\nx 1\n": '"_total" suffix',
        b"# TYPE x gauge\nx 1\n": "no help text",
    }
    assert promtool_check_all([good, good]) == []
    for page, said in broken.items():
        with pytest.raises(AssertionError):
            check_page(page)
        problems = promtool_check_all([good, page, good])
        assert problems, page
        assert said in "\n".join(problems), (page, problems)
