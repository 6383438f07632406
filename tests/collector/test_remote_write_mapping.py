"""The remote write sink without a receiver: Prometheus's naming rules, the mapping of
events and summaries to series, the grouping of batches into ordered requests (against
a plain model of what must be sent), and the meaning of a receiver's answers."""

from __future__ import annotations

import email.utils
import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.sinks.remote import Unavailable
from collector.sinks.remote_write._answers import Refused, check_answer, retry_after
from collector.sinks.remote_write._mapping import Naming, quantile
from collector.sinks.remote_write._names import check_labels, metric_name, sanitize
from collector.sinks.remote_write._requests import OUT_OF_ORDER, SAME_TIMESTAMP, RequestEncoder

from .remote_write_decoder import decode_write_request

# The grammar as remote write 1.0 states it, written out here apart from _names.py.
SPEC_METRIC = re.compile(r"[a-zA-Z_:]([a-zA-Z0-9_:])*")
SPEC_LABEL = re.compile(r"[a-zA-Z_]([a-zA-Z0-9_])*")


def spec_valid(labels: list[tuple[str, str]]) -> bool:
    names = [name for name, _ in labels]
    return (
        names == sorted(names)
        and len(set(names)) == len(names)
        and dict(labels).get("__name__") is not None
        and SPEC_METRIC.fullmatch(dict(labels)["__name__"]) is not None
        and all(name == "__name__" or (SPEC_LABEL.fullmatch(name) and not name.startswith("__")) for name in names)
        and all(value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value) for _, value in labels)
    )


# -- names -------------------------------------------------------------------------------


@given(st.text(min_size=1))
def test_a_sanitized_name_is_on_the_label_grammar_and_stays_put(name: str) -> None:
    clean = sanitize(name)
    assert SPEC_LABEL.fullmatch(clean)
    assert sanitize(clean) == clean
    assert len(clean) in (len(name), len(name) + 1)


@given(st.from_regex(SPEC_LABEL, fullmatch=True))
def test_a_valid_name_is_left_as_it_is(name: str) -> None:
    assert sanitize(name) == name


@given(st.text(min_size=1), st.sampled_from(["", "numbat_", "x"]))
def test_metric_names_are_on_the_metric_grammar(name: str, prefix: str) -> None:
    assert SPEC_METRIC.fullmatch(metric_name(name, prefix))


def test_names_as_operators_see_them() -> None:
    assert metric_name("registry.request.latency") == "registry_request_latency"
    assert metric_name("9lives") == "_9lives"
    assert metric_name("a:b-c d/é") == "a_b_c_d__"
    assert metric_name("x", "numbat_") == "numbat_x"


names = st.one_of(st.from_regex(SPEC_LABEL, fullmatch=True), st.text(max_size=6))
label_sets = st.tuples(
    st.one_of(st.none(), st.from_regex(SPEC_METRIC, fullmatch=True), st.text(max_size=6)),
    st.lists(st.tuples(names, st.text(max_size=6)), max_size=4),
).map(lambda drawn: sorted(([("__name__", drawn[0])] if drawn[0] is not None else []) + drawn[1]))


@given(label_sets)
def test_check_labels_refuses_exactly_what_the_spec_forbids(labels) -> None:
    assert (check_labels(labels) is None) == spec_valid(labels)


def test_check_labels_names_the_reason() -> None:
    assert check_labels([("__name__", "x"), ("a", "1")]) is None
    assert check_labels([("a", "1")]) == "bad metric name"
    assert check_labels([("__name__", "1x")]) == "bad metric name"
    assert check_labels([("__name__", "x"), ("__y", "1")]) == "bad label name"
    assert check_labels([("__name__", "x"), ("a", "1"), ("a", "2")]) == "bad label name"
    assert check_labels([("__name__", "x"), ("a", "")]) == "bad label value"
    assert check_labels([("__name__", "x"), ("a", "\udc80")]) == "bad label value"


# -- events and summaries to series ------------------------------------------------------


def test_an_event_becomes_a_series_of_its_name_and_fields() -> None:
    naming = Naming(prefix="n_", static_labels={"job": "numbat", "host": "static"})
    event = {
        "name": "registry.request.latency",
        "value": 31,
        "time": 1,
        "host": "web-1",
        "http.status": 200,
        "ratio": 0.5,
        "whole": 3.0,
        "cached": True,
        "empty": "",
        "nothing": None,
        "list": [1, 2],
    }
    assert naming.event_labels(event) == [
        ("__name__", "n_registry_request_latency"),
        ("cached", "true"),
        ("host", "web-1"),  # a field wins over a static label
        ("http_status", "200"),
        ("job", "numbat"),
        ("ratio", "0.5"),
        ("whole", "3"),
    ]


def test_which_fields_become_labels() -> None:
    event = {"name": "x", "value": 1, "time": 1, "a": "1", "b": "2", "c": "3"}
    assert Naming(labels=["a", "b"], exclude=["b"]).event_labels(event) == [("__name__", "x"), ("a", "1")]


def test_series_with_bad_labels_are_refused_with_a_reason() -> None:
    naming = Naming()
    assert naming.event_labels({"name": "x", "a.b": "1", "a_b": "2"}) == "bad label name"
    assert naming.event_labels({"name": "x", "__secret": "1"}) == "bad label name"
    assert naming.event_labels({"name": "x", "__name__": "y"}) == "bad label name"
    assert naming.event_labels({"name": "x", "a": "\ud800"}) == "bad label value"
    assert naming.event_labels({"name": ""}) == "bad metric name"
    assert naming.event_labels({"name": 5}) == "bad metric name"


def test_summaries_become_prometheus_style_series() -> None:
    naming = Naming()
    timer = {
        "name": "api.latency",
        "time": 10_000,
        "kind": "timer",
        "route": "/x",
        "count": 4.0,
        "sum": 10.0,
        "median": 2.5,
        "upper_90": 4.0,
        "upper_99_9": 4.0,
        "mean_90": 2.5,
        "lower_top10": 4.0,
        "bin_100": 4.0,
    }
    got = {tuple(labels): value for labels, value in naming.summary_samples(timer)}  # type: ignore[arg-type]
    route = ("route", "/x")
    assert got == {
        (("__name__", "api_latency_count"), route): 4.0,
        (("__name__", "api_latency_sum"), route): 10.0,
        (("__name__", "api_latency_median"), route): 2.5,
        (("__name__", "api_latency"), ("quantile", "0.9"), route): 4.0,
        (("__name__", "api_latency"), ("quantile", "0.999"), route): 4.0,
        (("__name__", "api_latency_mean_90"), route): 2.5,
        (("__name__", "api_latency_lower_top10"), route): 4.0,
        (("__name__", "api_latency_bin_100"), route): 4.0,
    }
    assert naming.summary_samples({"name": "g", "time": 1, "kind": "gauge", "value": -2.0}) == [
        ([("__name__", "g")], -2.0)
    ]
    counter = {"name": "c", "time": 1, "kind": "counter", "count": 3.0, "rate": 0.3, "key_count": "x"}
    assert naming.summary_samples(counter) == [
        ([("__name__", "c_count"), ("key_count", "x")], 3.0),
        ([("__name__", "c_rate"), ("key_count", "x")], 0.3),
    ]
    assert naming.summary_samples({"name": "s", "time": 1, "kind": "set", "count": 2.0}) == [
        ([("__name__", "s_count")], 2.0)
    ]
    # a key field named like the label a percentile needs: those series alone are refused
    clash = {"name": "t", "time": 1, "kind": "timer", "quantile": "q", "upper_90": 1.0, "count": 1.0}
    assert [labels for labels, _ in naming.summary_samples(clash)] == [
        "bad label name",
        [("__name__", "t_count"), ("quantile", "q")],
    ]


@given(st.decimals(min_value=Decimal("0.001"), max_value=100, places=3))
def test_a_percentile_suffix_is_its_quantile_in_decimal(percent: Decimal) -> None:
    suffix = format(percent.normalize(), "f").replace(".", "_")
    assert Decimal(quantile(suffix)) == percent / 100
    assert "e" not in quantile(suffix).lower()


# -- batches to requests -----------------------------------------------------------------

NAMES = ["a", "b.c"]
events = st.fixed_dictionaries(
    {
        "name": st.sampled_from(NAMES),
        "value": st.one_of(st.integers(-5, 5), st.floats(-1e3, 1e3), st.booleans(), st.just("text")),
        "time": st.integers(1_000, 1_030),
    },
    optional={"host": st.sampled_from(["h1", "h2", 1, True, 0.0]), "ok": st.booleans()},
)
batches = st.lists(st.lists(events, max_size=30), min_size=1, max_size=4)


def model(naming: Naming, batches, batch_size: int):
    """What must reach the receiver, written plainly: per batch, per series in order of
    first appearance... no: per series, samples by time (the later event of one time
    wins), only those newer than the last sent; and the count of what was left out."""
    last: dict[tuple, int] = {}
    sent: dict[tuple, list[tuple[float, int]]] = {}
    left = 0
    for batch in batches:
        grouped: dict[tuple, dict[int, float]] = {}
        for event in batch:
            labels = naming.event_labels(event)
            value = event["value"]
            if isinstance(labels, str) or isinstance(value, str):
                left += 1
                continue
            points = grouped.setdefault(tuple(labels), {})
            if event["time"] in points:
                left += 1
            points[event["time"]] = float(value)
        for labels, points in grouped.items():
            for time in sorted(points):
                if time > last.get(labels, -1):
                    sent.setdefault(labels, []).append((points[time], time))
                else:
                    left += 1
            last[labels] = max([last.get(labels, -1), *points])
    return sent, left


@given(batches, st.integers(1, 7))
@settings(max_examples=300, deadline=None)
def test_requests_carry_each_series_in_time_order_and_nothing_else(batches, batch_size: int) -> None:
    naming = Naming()
    encoder = RequestEncoder(naming, batch_size=batch_size)
    received: dict[tuple, list[tuple[float, int]]] = {}
    left = 0
    for batch in batches:
        requests, left_out = encoder.encode(batch)
        left += sum(left_out.values())
        assert sum(count for _, count in requests) + sum(left_out.values()) == len(batch)
        for request, count in requests:
            series = decode_write_request(request)
            assert 0 < count <= batch_size
            assert sum(len(points) for _, points in series) == count
            for labels, points in series:
                assert spec_valid(labels)
                received.setdefault(tuple(labels), []).extend(points)
    expected, expected_left = model(naming, batches, batch_size)
    assert received == expected
    assert left == expected_left
    for points in received.values():
        times = [t for _, t in points]
        assert times == sorted(set(times))  # across requests too: strictly increasing


uniform_batches = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["a", "heartbeat", "b"]),
            "value": st.one_of(st.integers(-5, 5), st.floats(-1e3, 1e3), st.booleans()),
            "time": st.integers(1_000, 1_030),
            "host": st.sampled_from(["h1", "h2", "__bad"]),
        }
    ),
    min_size=1,
    max_size=30,
)


@given(uniform_batches)
@settings(max_examples=200, deadline=None)
def test_a_batch_of_one_shape_takes_the_fast_path_to_the_same_samples(batch) -> None:
    """Events of one shape and known series are looked up all at once: the same samples
    and the same reasons as one by one. (A field named ``__bad`` is no label.)"""
    encoder = RequestEncoder(Naming(), skip=lambda name: name == "heartbeat")
    fields = [{**event, "host": host} for event in batch[:1] for host in ("h1", "h2", "__bad")]
    encoder.encode([{**event, "name": name} for event in fields for name in ("a", "heartbeat", "b")])  # learn
    fast_left: dict[str, int] = {}
    fast = encoder._uniform_samples(batch, fast_left)
    assert fast is not None
    slow_left: dict[str, int] = {}
    slow = encoder._event_samples(batch, slow_left)
    assert [array.tolist() for array in fast] == [array.tolist() for array in slow]
    assert fast_left == slow_left


def test_the_fast_path_gives_way_to_anything_unusual() -> None:
    encoder = RequestEncoder(Naming())
    encoder.encode([{"name": "a", "value": 1, "time": 1, "host": "h"}])
    assert encoder._uniform_samples([{"name": "a", "value": 1, "time": 2, "host": "h"}], {}) is not None
    for unusual in (
        {"name": "a", "value": 1, "time": 2, "host": "new"},  # a series not cached yet
        {"name": "a", "value": 1, "time": 2, "port": "h"},  # another shape, as many keys
        {"name": "a", "value": 1, "time": 2, "host": "h", "zone": "z"},  # the shape's keys and one more
        {"name": "a", "value": 2**70, "time": 2, "host": "h"},  # past 64 bits
        {"name": "a", "value": 1, "time": 2.5, "host": "h"},  # a time that is no integer
        {"name": "a", "value": None, "time": 2, "host": "h"},
    ):
        assert encoder._uniform_samples([{"name": "a", "value": 1, "time": 2, "host": "h"}, unusual], {}) is None


def test_what_is_left_out_is_counted_by_reason() -> None:
    encoder = RequestEncoder(Naming(), skip=lambda name: name == "heartbeat")
    batch = [
        {"name": "x", "value": 1, "time": 10},
        {"name": "x", "value": 2, "time": 10},  # the later of one millisecond wins
        {"name": "x", "value": 3, "time": 5},
        {"name": "x", "value": "up", "time": 11},
        {"name": "heartbeat", "value": 1, "time": 11},
        {"name": "y", "value": 1, "time": 11, "a.b": 1, "a_b": 2},
    ]
    requests, left_out = encoder.encode(batch)
    assert left_out == {SAME_TIMESTAMP: 1, "not a number": 1, "heartbeat": 1, "bad label name": 1}
    assert decode_write_request(requests[0][0]) == [([("__name__", "x")], [(3.0, 5), (2.0, 10)])]
    _, left_out = encoder.encode([{"name": "x", "value": 1, "time": 10}, {"name": "x", "value": 1, "time": 9}])
    assert left_out == {OUT_OF_ORDER: 2}


def test_past_max_series_the_memory_starts_over() -> None:
    encoder = RequestEncoder(Naming(), max_series=2)
    encoder.encode([{"name": n, "value": 1, "time": 10} for n in ("a", "b", "c")])
    assert len(encoder.series) == 3  # a batch is never cut short
    requests, left_out = encoder.encode([{"name": "a", "value": 1, "time": 5}])
    assert left_out == {}  # forgotten: sent, for the receiver to judge
    assert decode_write_request(requests[0][0]) == [([("__name__", "a")], [(1.0, 5)])]
    assert len(encoder.series) == 1


def test_cached_series_do_not_confuse_true_and_1() -> None:
    encoder = RequestEncoder(Naming())
    batch = [{"name": "x", "value": 1, "time": t, "flag": flag} for t, flag in ((1, True), (2, 1), (3, 1.0), (4, True))]
    requests, _ = encoder.encode(batch)
    series = {tuple(labels): points for labels, points in decode_write_request(requests[0][0])}
    assert series == {
        (("__name__", "x"), ("flag", "true")): [(1.0, 1), (1.0, 4)],
        (("__name__", "x"), ("flag", "1")): [(1.0, 2), (1.0, 3)],
    }


# -- answers ------------------------------------------------------------------------------


def test_answers_by_the_spec() -> None:
    check_answer(204, b"", {})
    check_answer(200, b"ignored", {})
    for status in (500, 503, 429):
        with pytest.raises(Unavailable) as unavailable:
            check_answer(status, b"busy", {"retry-after": "7"})
        assert unavailable.value.retry_after == 7.0
    with pytest.raises(Unavailable) as unavailable:
        check_answer(503, b"", {"retry-after": "86400"}, max_retry_after=300)
    assert unavailable.value.retry_after == 300  # bounded
    with pytest.raises(Unavailable) as unavailable:
        check_answer(503, b"", {})
    assert unavailable.value.retry_after is None
    for status in (400, 401, 404, 413, 302):
        with pytest.raises(Refused) as refused:
            check_answer(status, b"out of order sample\n", {})
        assert (refused.value.status, refused.value.message) == (status, "out of order sample")


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after("120") == 120.0
    assert retry_after(" 0 ") == 0.0
    assert retry_after(email.utils.formatdate(1_000_030, usegmt=True), now=1_000_000) == pytest.approx(30)
    assert retry_after(email.utils.formatdate(999_000, usegmt=True), now=1_000_000) == 0.0
    for bad in (None, "", "soon", "-5", "1.5", "\u0663"):
        assert retry_after(bad) is None


@given(st.text(max_size=40))
def test_retry_after_reads_anything_without_raising(text: str) -> None:
    seconds = retry_after(text, now=0)
    assert seconds is None or seconds >= 0
